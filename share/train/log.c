/*
 * log.c — write and read the JSON-lines training log.
 */
#include "train/log.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The numeric fields, in output order, with where they live in a record. */
static const struct {
	const char *name;
	size_t offset;
} log_fields[] = {
	{"tokens", offsetof(log_record, tokens)},
	{"loss", offsetof(log_record, loss)},
	{"val_loss", offsetof(log_record, val_loss)},
	{"hellaswag", offsetof(log_record, hellaswag)},
	{"lr", offsetof(log_record, lr)},
	{"grad_norm", offsetof(log_record, grad_norm)},
	{"ms", offsetof(log_record, ms)},
	{"tok_s", offsetof(log_record, tok_s)},
	{"mfu", offsetof(log_record, mfu)},
};
#define N_FIELDS (sizeof log_fields / sizeof log_fields[0])

static double *field_ptr(log_record *r, size_t i)
{
	return (double *)((char *)r + log_fields[i].offset);
}

log_record log_record_empty(long step, double tokens)
{
	log_record r;
	for (size_t i = 0; i < N_FIELDS; i++)
		*field_ptr(&r, i) = NAN;
	r.step = step;
	r.tokens = tokens;
	return r;
}

/* ---- writing ------------------------------------------------------------ */

int train_log_open(train_log *log, const char *path)
{
	log->fp = fopen(path, "a");
	if (!log->fp)
		return lm_fail_errno("cannot open log '%s'", path);
	log->path = strdup(path);
	return 0;
}

/* The length of the whole lines of fd's SIZE bytes: just after the last
 * newline, 0 if none; -1 on a read error. */
static off_t whole_lines_end(int fd, off_t size)
{
	char buf[4096];
	for (off_t end = size; end > 0;) {
		off_t start = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
		ssize_t n = pread(fd, buf, (size_t)(end - start), start);
		if (n != end - start)
			return -1;
		for (ssize_t i = n; i-- > 0;)
			if (buf[i] == '\n')
				return start + i + 1;
		end = start;
	}
	return 0;
}

int train_log_repair(const char *path, long *dropped)
{
	*dropped = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : lm_fail_errno("cannot open log '%s'", path);
	struct stat st;
	int rc = 0;
	off_t keep;
	if (fstat(fd, &st) != 0)
		rc = lm_fail_errno("cannot read log '%s'", path);
	else if ((keep = whole_lines_end(fd, st.st_size)) < 0)
		rc = lm_fail_errno("cannot read log '%s'", path);
	else if (keep < st.st_size) {
		if (ftruncate(fd, keep) != 0 || fsync(fd) != 0)
			rc = lm_fail_errno("cannot cut the torn last line of log '%s'", path);
		else
			*dropped = (long)(st.st_size - keep);
	}
	close(fd);
	return rc;
}

static int flush_line(train_log *log)
{
	if (fflush(log->fp) != 0 || ferror(log->fp))
		return lm_fail_errno("cannot write log '%s'", log->path);
	return 0;
}

int train_log_run(train_log *log, const char *name, const char *config_json,
		  const char *extra_json)
{
	json_t *o = json_pack("{s:s}", "run", name);
	json_t *cfg = config_json ? json_loads(config_json, 0, NULL) : NULL;
	json_t *extra = extra_json ? json_loads(extra_json, 0, NULL) : NULL;
	if (cfg)
		json_object_set_new(o, "config", cfg);
	if (extra)
		json_object_update(o, extra);
	json_decref(extra);
	json_dumpf(o, log->fp, JSON_COMPACT);
	json_decref(o);
	fputc('\n', log->fp);
	return flush_line(log);
}

int train_log_write(train_log *log, const log_record *r)
{
	fprintf(log->fp, "{\"step\":%ld", r->step);
	for (size_t i = 0; i < N_FIELDS; i++) {
		double v = *field_ptr((log_record *)r, i);
		if (!isnan(v))
			fprintf(log->fp, ",\"%s\":%.9g", log_fields[i].name, isfinite(v) ? v : -1.0);
	}
	fputs("}\n", log->fp);
	return flush_line(log);
}

int train_log_close(train_log *log)
{
	int rc = 0;
	if (log->fp && fclose(log->fp) != 0)
		rc = lm_fail_errno("cannot write log '%s'", log->path);
	free(log->path);
	log->fp = NULL;
	log->path = NULL;
	return rc;
}

/* ---- reading -------------------------------------------------------------- */

static int parse_record(json_t *o, log_record *r)
{
	json_t *step = json_object_get(o, "step");
	if (!json_is_integer(step))
		return -1;
	*r = log_record_empty((long)json_integer_value(step), NAN);
	for (size_t i = 0; i < N_FIELDS; i++) {
		json_t *v = json_object_get(o, log_fields[i].name);
		if (json_is_number(v))
			*field_ptr(r, i) = json_number_value(v);
	}
	return 0;
}

static void take_run_line(run_log *run, json_t *o)
{
	if (run->config_json)   /* a resumed run's repeat */
		return;
	json_t *name = json_object_get(o, "run");
	json_t *cfg = json_object_get(o, "config");
	if (json_is_string(name)) {
		free(run->name);
		run->name = strdup(json_string_value(name));
	}
	run->config_json = cfg ? json_dumps(cfg, JSON_COMPACT) : strdup("{}");
}

/* Append r, or replace the record of the same step and kind a resumed run
 * redid: a train step replaces a train step, an eval an eval. */
static int add_record(run_log *run, size_t *cap, const log_record *r)
{
	bool is_eval = !isnan(r->val_loss);
	for (size_t i = run->n_records; i-- > 0;) {
		log_record *old = &run->records[i];
		if (old->step < r->step)
			break;
		if (old->step == r->step && !isnan(old->val_loss) == is_eval) {
			*old = *r;
			return 0;
		}
	}
	if (run->n_records == *cap) {
		size_t n = *cap ? 2 * *cap : 256;
		log_record *bigger = realloc(run->records, n * sizeof *bigger);
		if (!bigger)
			return lm_fail("out of memory reading '%s'", run->path);
		run->records = bigger;
		*cap = n;
	}
	run->records[run->n_records++] = *r;
	return 0;
}

static char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return strdup(slash ? slash + 1 : path);
}

int run_log_read(run_log *run, const char *path)
{
	memset(run, 0, sizeof *run);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return lm_fail_errno("cannot open '%s'", path);
	run->path = strdup(path);
	run->name = basename_of(path);
	char *line = NULL;
	size_t line_cap = 0, cap = 0;
	long lineno = 0;
	int rc = 0, lines = 0;
	ssize_t len;
	while (rc == 0 && (len = getline(&line, &line_cap, fp)) != -1) {
		lineno++;
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		lines++;
		json_t *o = json_loads(line, 0, NULL);
		log_record r;
		if (!json_is_object(o) && line[len - 1] != '\n')
			run->torn_line = lineno;   /* the last line, cut short */
		else if (!json_is_object(o))
			rc = lm_fail("'%s' line %ld: not a JSON object (is it a training log?)", path, lineno);
		else if (json_object_get(o, "run"))
			take_run_line(run, o);
		else if (parse_record(o, &r) == 0)
			rc = add_record(run, &cap, &r);
		else
			rc = lm_fail("'%s' line %ld: a record without an integer \"step\"", path, lineno);
		json_decref(o);
	}
	free(line);
	if (rc == 0 && ferror(fp))  /* a directory reads as EISDIR */
		rc = lm_fail_errno("cannot read '%s'", path);
	else if (rc == 0 && lines == 0)
		rc = lm_fail("'%s': an empty log (no run line, no records)", path);
	fclose(fp);
	if (rc != 0)
		run_log_free(run);
	return rc;
}

void run_log_free(run_log *run)
{
	free(run->path);
	free(run->name);
	free(run->config_json);
	free(run->records);
	memset(run, 0, sizeof *run);
}
