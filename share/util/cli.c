/*
 * cli.c — option-value parsers that end the program on a bad value.
 */
#include "util/cli.h"
#include "util/error.h"
#include "util/num.h"
#include "util/version.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void cli_common(int opt, void (*usage)(void))
{
	switch (opt) {
	case OPT_HELP:
		usage();
		exit(0);
	case OPT_VERSION:
		version_print(stdout, lm_progname);
		exit(0);
	default:
		fprintf(stderr, "Try '%s --help' for more information.\n", lm_progname);
		exit(EXIT_USAGE);
	}
}

uint64_t cli_count(const char *option, const char *arg)
{
	uint64_t v;
	if (num_parse_count(arg, &v) != 0)
		lm_usage_error("%s: %s", option, lm_last_error());
	return v;
}

int cli_int(const char *option, const char *arg, int lo, int hi)
{
	double v;
	if (num_parse_real(arg, &v) != 0 || v != floor(v))
		lm_usage_error("%s: invalid integer '%s'", option, arg);
	if (v < lo || v > hi)  /* before the cast: an int cannot hold it */
		lm_usage_error("%s: %s is out of range [%d, %d]", option, arg, lo, hi);
	return (int)v;
}

double cli_real(const char *option, const char *arg)
{
	double v;
	if (num_parse_real(arg, &v) != 0)
		lm_usage_error("%s: %s", option, lm_last_error());
	return v;
}

double cli_positive_real(const char *option, const char *arg)
{
	double v = cli_real(option, arg);
	if (!(v > 0))
		lm_usage_error("%s: '%s' must be positive", option, arg);
	return v;
}

double cli_bytes(const char *option, const char *arg)
{
	double v;
	if (num_parse_bytes(arg, &v) != 0)
		lm_usage_error("%s: %s", option, lm_last_error());
	return v;
}
