/*
 * rundir.c — checkpoint names, the latest pointer, pruning, the lock (see
 * rundir.h).
 */
#include "train/rundir.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_PREFIX "ckpt_"
#define CKPT_EXT ".safetensors"
#define STATE_EXT ".state"

/* ---- names ------------------------------------------------------------------ */

char *rundir_file(const char *dir, const char *name)
{
	char *p;
	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		lm_fail("out of memory");
		return NULL;
	}
	return p;
}

char *rundir_ckpt_path(const char *dir, long step, const char *ext)
{
	char *p;
	if (asprintf(&p, "%s/" CKPT_PREFIX "%08ld.%s", dir, step, ext) < 0) {
		lm_fail("out of memory");
		return NULL;
	}
	return p;
}

/* The step of a name "ckpt_NNNNNNNN.EXT" with EXT one of ours; -1 if not. */
static long name_step(const char *name, const char **ext)
{
	size_t np = strlen(CKPT_PREFIX);
	if (strncmp(name, CKPT_PREFIX, np) != 0)
		return -1;
	char *end;
	errno = 0;
	long step = strtol(name + np, &end, 10);
	if (end == name + np || errno || step < 0)
		return -1;
	if (strcmp(end, CKPT_EXT) != 0 && strcmp(end, STATE_EXT) != 0)
		return -1;
	if (ext)
		*ext = end;
	return step;
}

/* ---- the directory ------------------------------------------------------------ */

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lm_fail_errno("cannot open directory '%s'", dir);
	int rc = fsync(fd) != 0 && errno != EINVAL ? lm_fail_errno("cannot sync '%s'", dir) : 0;
	close(fd);
	return rc;
}

int rundir_point_latest(const char *dir, long step)
{
	char target[64], *link = rundir_file(dir, RUNDIR_LATEST), *tmp = NULL;
	snprintf(target, sizeof target, CKPT_PREFIX "%08ld" CKPT_EXT, step);
	if (!link || asprintf(&tmp, "%s.tmp.%ld", link, (long)getpid()) < 0) {
		free(link);
		return lm_fail("out of memory");
	}
	int rc = 0;
	unlink(tmp);
	if (symlink(target, tmp) != 0)
		rc = lm_fail_errno("cannot make link '%s'", tmp);
	else if (rename(tmp, link) != 0) {
		rc = lm_fail_errno("cannot rename '%s' to '%s'", tmp, link);
		unlink(tmp);
	}
	if (rc == 0)
		rc = fsync_dir(dir);
	free(tmp);
	free(link);
	return rc;
}

int rundir_latest(const char *dir, long *step)
{
	char *link = rundir_file(dir, RUNDIR_LATEST), target[PATH_MAX];
	if (!link)
		return -1;
	ssize_t n = readlink(link, target, sizeof target - 1);
	int rc;
	if (n < 0 && errno == ENOENT)
		rc = 0;
	else if (n < 0 && errno == EINVAL)
		rc = lm_fail("'%s' is not a link to a checkpoint of this run", link);
	else if (n < 0)
		rc = lm_fail_errno("cannot read link '%s'", link);
	else {
		target[n] = 0;
		const char *ext;
		*step = name_step(target, &ext);
		rc = *step >= 0 && strcmp(ext, CKPT_EXT) == 0 ? 1
			: lm_fail("'%s' points to '%s', not a checkpoint of this run", link, target);
	}
	free(link);
	return rc;
}

/* Both files of step's pair are there. */
static bool pair_present(const char *dir, long step)
{
	bool yes = true;
	for (int e = 0; e < 2 && yes; e++) {
		char *p = rundir_ckpt_path(dir, step, e ? "state" : "safetensors");
		yes = p && access(p, F_OK) == 0;
		free(p);
	}
	return yes;
}

int rundir_in_use(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return RUNDIR_EMPTY;
	int used = RUNDIR_EMPTY;
	for (struct dirent *e; used != RUNDIR_CHECKPOINTED && (e = readdir(d));) {
		long step = name_step(e->d_name, NULL);
		if ((step >= 0 && pair_present(dir, step)) || !strcmp(e->d_name, RUNDIR_LATEST))
			used = RUNDIR_CHECKPOINTED;
		else if (step >= 0 || !strcmp(e->d_name, RUNDIR_LOG))
			used = RUNDIR_NO_CHECKPOINT;
	}
	closedir(d);
	return used;
}

int rundir_check_fresh(const char *dir)
{
	int used = rundir_in_use(dir);
	if (used == RUNDIR_EMPTY)
		return 0;
	if (used == RUNDIR_NO_CHECKPOINT)
		return lm_fail("'%s' holds a run that wrote no whole checkpoint: nothing to "
			       "resume; -f to start over", dir);
	return lm_fail("'%s' already holds a run: --resume it, or -f to start over", dir);
}

/* ---- the lock ---------------------------------------------------------------------- */

/* The pid the holder wrote into the lock file, for the message ("?" if none). */
static void lock_holder(int fd, char *pid, size_t cap)
{
	ssize_t n = pread(fd, pid, cap - 1, 0);
	pid[n > 0 ? n : 0] = 0;
	pid[strcspn(pid, "\n")] = 0;
	if (!pid[0])
		snprintf(pid, cap, "?");
}

int rundir_lock(const char *dir)
{
	char *path = rundir_file(dir, RUNDIR_LOCK);
	if (!path)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		lm_fail_errno("cannot open lock '%s'", path);
	} else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		char pid[32];
		if (errno == EWOULDBLOCK) {
			lock_holder(fd, pid, sizeof pid);
			lm_fail("'%s' is in use by another run (pid %s): one run writes a run "
				"directory at a time", dir, pid);
		} else {
			lm_fail_errno("cannot lock '%s'", path);
		}
		close(fd);
		fd = -1;
	} else {
		/* the holder's pid, for a refused run's message: best effort (the
		 * lock holds without it, on a full disk too) */
		char pid[32];
		int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		bool said = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) == n;
		(void)said;
	}
	free(path);
	return fd;
}

/* ---- pruning --------------------------------------------------------------------- */

static int cmp_long_desc(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x < y) - (x > y);
}

/* Every distinct step with a file in DIR, newest first; temp files removed. */
static long *list_steps(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d) {
		lm_fail_errno("cannot open directory '%s'", dir);
		return NULL;
	}
	size_t cap = 16;
	long *steps = malloc(cap * sizeof *steps);
	*n = 0;
	for (struct dirent *e; steps && (e = readdir(d));) {
		if (!strncmp(e->d_name, "ckpt", 4) && strstr(e->d_name, ".tmp.")) {
			char *p = rundir_file(dir, e->d_name);
			if (p)
				unlink(p);
			free(p);
			continue;
		}
		long s = name_step(e->d_name, NULL);
		if (s < 0)
			continue;
		if (*n == cap)
			steps = realloc(steps, (cap *= 2) * sizeof *steps);
		if (steps)
			steps[(*n)++] = s;
	}
	closedir(d);
	if (!steps) {
		lm_fail("out of memory");
		return NULL;
	}
	qsort(steps, *n, sizeof *steps, cmp_long_desc);
	size_t k = 0;
	for (size_t i = 0; i < *n; i++)
		if (k == 0 || steps[k - 1] != steps[i])
			steps[k++] = steps[i];
	*n = k;
	return steps;
}

int rundir_previous(const char *dir, long before, long *step)
{
	size_t n;
	long *steps = list_steps(dir, &n);
	if (!steps)
		return -1;
	int found = 0;
	for (size_t i = 0; i < n && !found; i++)
		if (steps[i] < before && pair_present(dir, steps[i])) {
			*step = steps[i];
			found = 1;
		}
	free(steps);
	return found;
}

int rundir_prune(const char *dir, int keep)
{
	long latest = -1;
	if (rundir_latest(dir, &latest) < 0)
		return -1;
	size_t n;
	long *steps = list_steps(dir, &n);
	if (!steps)
		return -1;
	int rc = 0, kept = 0;
	for (size_t i = 0; i < n; i++) {
		/* never remove the latest nor anything newer (a pair being made) */
		if (keep <= 0 || steps[i] >= latest || kept < keep) {
			kept += steps[i] <= latest;
			continue;
		}
		for (int e = 0; e < 2; e++) {
			char *p = rundir_ckpt_path(dir, steps[i], e ? "state" : "safetensors");
			if (p && unlink(p) != 0 && errno != ENOENT)
				rc = lm_fail_errno("cannot remove '%s'", p);
			free(p);
		}
	}
	free(steps);
	return rc;
}
