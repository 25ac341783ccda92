/*
 * error.c — recorded errors for library code, fatal messages for mains.
 */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lm_progname = "lmpipe";

static _Thread_local char last_error[1024];

void lm_set_progname(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	lm_progname = slash ? slash + 1 : argv0;
}

/* Formats into a local buffer first, so a message may wrap the previous
 * one: lm_fail("%s: %s", path, lm_last_error()). */
int lm_fail(const char *fmt, ...)
{
	char msg[sizeof last_error];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	memcpy(last_error, msg, sizeof msg);
	return -1;
}

int lm_fail_errno(const char *fmt, ...)
{
	int saved = errno;
	char msg[sizeof last_error - 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char full[sizeof last_error];
	snprintf(full, sizeof full, "%s: %s", msg, strerror(saved));
	memcpy(last_error, full, sizeof full);
	errno = saved;
	return -1;
}

const char *lm_last_error(void)
{
	return last_error[0] ? last_error : "unknown error";
}

static void vmessage(const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", lm_progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void lm_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
}

void lm_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	exit(EXIT_RUNTIME);
}

void lm_die_last(void)
{
	lm_die("%s", lm_last_error());
}

void lm_usage_hint(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", lm_progname);
}

void lm_vusage(const char *fmt, va_list ap)
{
	vmessage(fmt, ap);
	lm_usage_hint();
}

void lm_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lm_vusage(fmt, ap);
	va_end(ap);
	exit(EXIT_USAGE);
}
