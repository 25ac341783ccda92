/*
 * version.c — the version line every tool prints on --version.
 */
#include "util/version.h"

/* Set by the Makefile from its probes; a build outside it says so. */
#ifndef LMPIPE_FEATURES
#define LMPIPE_FEATURES "features unknown"
#endif

const char *version_features(void)
{
	return LMPIPE_FEATURES;
}

void version_print(FILE *f, const char *tool)
{
	fprintf(f, "%s (lmpipe) %s (%s)\n", tool, LMPIPE_VERSION, version_features());
}
