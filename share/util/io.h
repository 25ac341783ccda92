/*
 * io.h — file output that cannot half-succeed.
 *
 * atomic_file: write to a temporary name beside the target, fsync, rename
 * over the target, fsync the directory. A process killed at any moment
 * leaves either the old file or the new one, never a torn one; a failed
 * write leaves the target untouched. The target is what the path names
 * after its symbolic links: a link stays a link, and the file it points to
 * is the one replaced (or created). A target that is not a regular file (a
 * FIFO, a terminal, /dev/null) is written through, as a shell's '>' would,
 * since renaming over it would destroy the node; a directory is an error.
 *
 * stdout_close_checked: flush and close stdout at exit, so a full disk or a
 * broken pipe reaches the exit status (sbase's fshut).
 *
 * mkdir_p: `mkdir -p`, the one copy (shard's output directory, lm-train's
 * run directory).
 */
#ifndef LMPIPE_IO_H
#define LMPIPE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
	char *path;      /* the name given, for messages */
	char *target;    /* PATH with its symbolic links followed: what is replaced */
	char *tmp_path;  /* TARGET.tmp.PID.N in the same directory; NULL when written through */
	FILE *fp;        /* open on tmp_path, or on the target itself when written through */
} atomic_file;

/* Open PATH for atomic replacement; refuses an existing regular file unless
 * overwrite (a node written through replaces nothing). */
int atomic_file_open(atomic_file *af, const char *path, bool overwrite);
/* Flush, fsync, rename onto the target, fsync the directory. Frees af. */
int atomic_file_commit(atomic_file *af);
/* Remove the temporary file. Frees af. Safe after a failed commit. */
void atomic_file_abort(atomic_file *af);

/* Write all of buf to fd, retrying short writes and EINTR. WHAT names the
 * destination in the error message. */
int write_all(int fd, const void *buf, size_t n, const char *what);
/* Read up to n bytes, retrying short reads; returns bytes read or -1. */
long long read_full(int fd, void *buf, size_t n, const char *what);

/* Read a whole file into memory (NUL-terminated); *len gets its size. */
char *read_whole_file(const char *path, size_t *len);

/* Error if fd is a terminal: binary output would garble it. */
int refuse_binary_to_tty(int fd, const char *what);

/* Flush and check stdout; returns -1 with the error recorded. */
int stdout_close_checked(void);

/* Make DIR and any missing parents (mode 0777 less the umask); an existing
 * directory is fine. -1 with the error recorded, naming the part that
 * failed, or DIR when it exists and is not a directory. */
int mkdir_p(const char *dir);

#endif
