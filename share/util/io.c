/*
 * io.c — atomic file replacement, full reads and writes, checked stdout.
 */
#include "util/io.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_parent_dir(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return lm_fail("out of memory");
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	free(copy);
	if (fd < 0)
		return 0;  /* not fatal: the rename itself has happened */
	fsync(fd);
	close(fd);
	return 0;
}

int atomic_file_open(atomic_file *af, const char *path, bool overwrite)
{
	static unsigned counter;
	memset(af, 0, sizeof *af);
	if (!overwrite && access(path, F_OK) == 0)
		return lm_fail("refusing to overwrite '%s' (use -f to force)", path);
	size_t n = strlen(path) + 64;
	af->path = strdup(path);
	af->tmp_path = malloc(n);
	if (!af->path || !af->tmp_path) {
		atomic_file_abort(af);
		return lm_fail("out of memory");
	}
	snprintf(af->tmp_path, n, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
	int fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || !(af->fp = fdopen(fd, "wb"))) {
		lm_fail_errno("cannot create '%s'", af->tmp_path);
		if (fd >= 0)
			close(fd);
		free(af->tmp_path);
		af->tmp_path = NULL;
		atomic_file_abort(af);
		return -1;
	}
	return 0;
}

int atomic_file_commit(atomic_file *af)
{
	int rc = 0;
	if (fflush(af->fp) != 0 || ferror(af->fp))
		rc = lm_fail_errno("cannot write '%s'", af->path);
	else if (fsync(fileno(af->fp)) != 0)
		rc = lm_fail_errno("cannot sync '%s'", af->path);
	if (fclose(af->fp) != 0 && rc == 0)
		rc = lm_fail_errno("cannot write '%s'", af->path);
	af->fp = NULL;
	if (rc == 0 && rename(af->tmp_path, af->path) != 0)
		rc = lm_fail_errno("cannot rename '%s' to '%s'", af->tmp_path, af->path);
	if (rc == 0)
		fsync_parent_dir(af->path);
	if (rc != 0) {
		atomic_file_abort(af);
		return -1;
	}
	free(af->path);
	free(af->tmp_path);
	memset(af, 0, sizeof *af);
	return 0;
}

void atomic_file_abort(atomic_file *af)
{
	if (af->fp)
		fclose(af->fp);
	if (af->tmp_path)
		unlink(af->tmp_path);
	free(af->path);
	free(af->tmp_path);
	memset(af, 0, sizeof *af);
}

int write_all(int fd, const void *buf, size_t n, const char *what)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return lm_fail_errno("cannot write %s", what);
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

long long read_full(int fd, void *buf, size_t n, const char *what)
{
	char *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return lm_fail_errno("cannot read %s", what);
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (long long)got;
}

char *read_whole_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		lm_fail_errno("cannot open '%s'", path);
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		n += fread(buf + n, 1, cap - n - 1, fp);
		if (n < cap - 1)
			break;
		char *bigger = realloc(buf, cap * 2);
		if (!bigger) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = bigger;
		cap *= 2;
	}
	if (!buf) {
		fclose(fp);
		lm_fail("out of memory reading '%s'", path);
		return NULL;
	}
	if (ferror(fp)) {
		lm_fail_errno("cannot read '%s'", path);
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int refuse_binary_to_tty(int fd, const char *what)
{
	if (isatty(fd))
		return lm_fail("refusing to write binary %s to a terminal", what);
	return 0;
}

int stdout_close_checked(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		return lm_fail_errno("cannot write standard output");
	if (fclose(stdout) != 0)
		return lm_fail_errno("cannot write standard output");
	return 0;
}
