/*
 * error.h — how lmpipe reports failure.
 *
 * Library code never prints or exits: it records a message with lm_fail()
 * and returns -1 (or NULL) to its caller. A tool's main prints that message
 * with lm_die_last(), prefixed by the tool's name, in style(9) form:
 *
 *     shard: cannot open 'x.bin': No such file or directory
 *
 * Exit status: 0 success, 1 runtime error, 2 usage error.
 */
#ifndef LMPIPE_ERROR_H
#define LMPIPE_ERROR_H

#ifdef __cplusplus
extern "C" {
#else
#include <stdnoreturn.h>
#ifdef __cplusplus
}
#endif

#endif

#include <stdarg.h>

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

extern const char *lm_progname;

void lm_set_progname(const char *argv0);

/* Record an error message for the caller; returns -1. */
int lm_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, with ": strerror(errno)" appended. */
int lm_fail_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last recorded message (thread-local), "" if none. */
const char *lm_last_error(void);

/* For mains only: print "tool: message" on stderr. */
void lm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((__noreturn__)) void lm_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((__noreturn__)) void lm_die_last(void);
/* A usage error: "tool: message" and the --help hint on stderr (cli.h's
 * helpers return EXIT_USAGE after it; lm_usage_error exits with it). */
void lm_usage_hint(void);
void lm_vusage(const char *fmt, va_list ap);
__attribute__((__noreturn__)) void lm_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef __cplusplus
}
#endif

#endif
