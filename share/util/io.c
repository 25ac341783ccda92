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

static void free_names(atomic_file *af)
{
	free(af->path);
	free(af->target);
	free(af->tmp_path);
	memset(af, 0, sizeof *af);
}

/* Symbolic links followed at most this deep, as the kernel does (ELOOP). */
#define MAX_LINK_HOPS 40

/* The contents of the symbolic link LINK, NUL-terminated; caller frees. */
static char *read_link(const char *link)
{
	for (size_t cap = 256;; cap *= 2) {
		char *buf = malloc(cap);
		if (!buf)
			return NULL;
		ssize_t n = readlink(link, buf, cap);
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if ((size_t)n < cap) {
			buf[n] = '\0';
			return buf;
		}
		free(buf);
	}
}

/* DEST, read from the link at LINK, as a path from here: a relative link
 * is relative to the directory holding it. Caller frees. */
static char *link_destination(const char *link, const char *dest)
{
	const char *slash = strrchr(link, '/');
	if (dest[0] == '/' || !slash)
		return strdup(dest);
	size_t dir = (size_t)(slash - link) + 1, n = dir + strlen(dest) + 1;
	char *out = malloc(n);
	if (out)
		snprintf(out, n, "%.*s%s", (int)dir, link, dest);
	return out;
}

/* PATH with its symbolic links followed as far as they lead: an existing
 * file, or the name a dangling link points to (which writing creates).
 * Caller frees; NULL with an error. */
static char *follow_links(const char *path)
{
	char *cur = strdup(path);
	for (int hop = 0; cur; hop++) {
		struct stat st;
		if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
			return cur;
		if (hop == MAX_LINK_HOPS) {
			free(cur);
			errno = ELOOP;
			lm_fail_errno("cannot write '%s'", path);
			return NULL;
		}
		char *dest = read_link(cur);
		if (!dest) {
			lm_fail_errno("cannot read the link '%s'", cur);
			free(cur);
			return NULL;
		}
		char *next = link_destination(cur, dest);
		free(dest);
		free(cur);
		cur = next;
	}
	lm_fail("out of memory");
	return NULL;
}

/* A FIFO, a terminal, a device: open it and write into it, no rename. */
static int open_through(atomic_file *af)
{
	int fd = open(af->target, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || !(af->fp = fdopen(fd, "wb"))) {
		lm_fail_errno("cannot open '%s'", af->path);
		if (fd >= 0)
			close(fd);
		atomic_file_abort(af);
		return -1;
	}
	return 0;
}

/* A regular file, or a new one: a temporary file beside the target. */
static int open_temp(atomic_file *af)
{
	static unsigned counter;
	size_t n = strlen(af->target) + 64;
	af->tmp_path = malloc(n);
	if (!af->tmp_path) {
		atomic_file_abort(af);
		return lm_fail("out of memory");
	}
	snprintf(af->tmp_path, n, "%s.tmp.%ld.%u", af->target, (long)getpid(), counter++);
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

int atomic_file_open(atomic_file *af, const char *path, bool overwrite)
{
	memset(af, 0, sizeof *af);
	if (!(af->path = strdup(path))) {
		atomic_file_abort(af);
		return lm_fail("out of memory");
	}
	if (!(af->target = follow_links(path))) {
		atomic_file_abort(af);
		return -1;
	}
	struct stat st;
	if (stat(af->target, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			atomic_file_abort(af);
			return lm_fail("cannot write '%s': %s", path, strerror(EISDIR));
		}
		if (!S_ISREG(st.st_mode))
			return open_through(af);
		if (!overwrite) {
			atomic_file_abort(af);
			return lm_fail("refusing to overwrite '%s' (use -f to force)", path);
		}
	}
	return open_temp(af);
}

int atomic_file_commit(atomic_file *af)
{
	int rc = 0;
	bool through = !af->tmp_path;
	if (fflush(af->fp) != 0 || ferror(af->fp))
		rc = lm_fail_errno("cannot write '%s'", af->path);
	else if (!through && fsync(fileno(af->fp)) != 0)
		rc = lm_fail_errno("cannot sync '%s'", af->path);
	if (fclose(af->fp) != 0 && rc == 0)
		rc = lm_fail_errno("cannot write '%s'", af->path);
	af->fp = NULL;
	if (!through && rc == 0 && rename(af->tmp_path, af->target) != 0)
		rc = lm_fail_errno("cannot rename '%s' to '%s'", af->tmp_path, af->target);
	if (!through && rc == 0)
		fsync_parent_dir(af->target);
	if (rc != 0) {
		atomic_file_abort(af);
		return -1;
	}
	free_names(af);
	return 0;
}

void atomic_file_abort(atomic_file *af)
{
	if (af->fp)
		fclose(af->fp);
	if (af->tmp_path)
		unlink(af->tmp_path);
	free_names(af);
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

/* ---- directories ------------------------------------------------------------ */

int mkdir_p(const char *dir)
{
	char *p = strdup(dir);
	if (!p)
		return lm_fail("out of memory");
	for (char *s = p + 1; *s; s++) {   /* each parent, then DIR itself */
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) != 0 && errno != EEXIST) {
			int rc = lm_fail_errno("cannot create directory '%s'", p);
			free(p);
			return rc;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return lm_fail_errno("cannot create directory '%s'", dir);
	struct stat st;
	if (stat(dir, &st) != 0)
		return lm_fail_errno("cannot create directory '%s'", dir);
	if (!S_ISDIR(st.st_mode))
		return lm_fail("'%s' is not a directory", dir);
	return 0;
}
