/*
 * datadir.c — find an installed data file.
 */
#include "util/datadir.h"
#include "util/error.h"

#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *readable(const char *path)
{
	return access(path, R_OK) == 0 ? path : NULL;
}

/* DIR of the running executable into dir[cap]; 0 on success. */
static int executable_dir(char *dir, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
	if (n <= 0)
		return -1;
	dir[n] = '\0';
	char *slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return 0;
}

const char *datadir_find(const char *name, char *path, size_t cap)
{
	const char *env = getenv("LMPIPE_DATA_DIR");
	if (env && *env) {
		snprintf(path, cap, "%s/%s", env, name);
		if (readable(path))
			return path;
	}
	char exe[PATH_MAX];
	if (executable_dir(exe, sizeof exe) == 0) {
		snprintf(path, cap, "%s/../../data/%s", exe, name);
		if (readable(path))
			return path;
	}
	snprintf(path, cap, "%s/%s", LMPIPE_DATADIR, name);
	if (readable(path))
		return path;
	lm_fail("no %s in $LMPIPE_DATA_DIR, the build tree's data or %s", name, LMPIPE_DATADIR);
	return NULL;
}

const char *datadir_hellaswag(char *path, size_t cap)
{
	return datadir_find(DATADIR_HELLASWAG, path, cap);
}
