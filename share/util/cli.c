/*
 * cli.c — the skeleton's helpers: --help, --version, usage errors and
 * option values, each returning the exit status rather than exiting.
 */
#include "util/cli.h"
#include "util/error.h"
#include "util/num.h"
#include "util/version.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	/* glibc's getopt names the program by argv[0] (it may be a path):
	 * lend it the tool's name for the call. getopt permutes only the
	 * arguments after it. */
	char *argv0 = argv[0];
	argv[0] = (char *)lm_progname;
	int opt = getopt_long(argc, argv, shortopts, longopts, NULL);
	argv[0] = argv0;
	return opt;
}

int cli_common_option(int opt, void (*usage)(void))
{
	switch (opt) {
	case OPT_HELP:
		usage();
		return 0;
	case OPT_VERSION:
		version_print(stdout, lm_progname);
		return 0;
	default:
		lm_usage_hint();
		return EXIT_USAGE;
	}
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lm_vusage(fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

/* ---- option values --------------------------------------------------------- */

int cli_arg_count(const char *option, const char *arg, uint64_t *v)
{
	uint64_t x;
	if (num_parse_count(arg, &x) != 0)
		return cli_usage_error("%s: %s", option, lm_last_error());
	*v = x;
	return 0;
}

int cli_arg_int(const char *option, const char *arg, int lo, int hi, int *v)
{
	double x;
	if (num_parse_real(arg, &x) != 0 || x != floor(x))
		return cli_usage_error("%s: invalid integer '%s'", option, arg);
	if (x < lo || x > hi)  /* before the cast: an int cannot hold it */
		return cli_usage_error("%s: %s is out of range [%d, %d]", option, arg, lo, hi);
	*v = (int)x;
	return 0;
}

int cli_arg_real(const char *option, const char *arg, double *v)
{
	double x;
	if (num_parse_real(arg, &x) != 0)
		return cli_usage_error("%s: %s", option, lm_last_error());
	*v = x;
	return 0;
}

int cli_arg_positive_real(const char *option, const char *arg, double *v)
{
	double x = 0;
	int rc = cli_arg_real(option, arg, &x);
	if (rc != 0)
		return rc;
	if (!(x > 0))
		return cli_usage_error("%s: '%s' must be positive", option, arg);
	*v = x;
	return 0;
}

int cli_arg_bytes(const char *option, const char *arg, double *v)
{
	double x;
	if (num_parse_bytes(arg, &x) != 0)
		return cli_usage_error("%s: %s", option, lm_last_error());
	*v = x;
	return 0;
}
