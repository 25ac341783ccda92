/*
 * cli.h — the one option convention every tool follows.
 *
 * Each tool parses with getopt_long, using the same long names for the same
 * things everywhere (--help, --version, --json, -o/--output, -j/--threads,
 * -v/--verbose, -f/--force). Option values go through the cli_* parsers,
 * which end the program with a usage error (exit 2) naming the option and
 * the value on a malformed one. --help prints to stdout and exits 0.
 */
#ifndef LMPIPE_CLI_H
#define LMPIPE_CLI_H

#include <getopt.h>
#include <stdint.h>

/* Long-option ids above any short option character. */
enum { OPT_HELP = 'h', OPT_VERSION = 0x100, OPT_TOOL_BASE = 0x200 };

#define CLI_COMMON_OPTIONS                                  \
	{"help", no_argument, NULL, OPT_HELP},              \
	{"version", no_argument, NULL, OPT_VERSION}

/* Handle --help/--version/unknown for a getopt_long switch's default. */
void cli_common(int opt, void (*usage)(void));

uint64_t cli_count(const char *option, const char *arg);
int cli_int(const char *option, const char *arg, int lo, int hi);
double cli_real(const char *option, const char *arg);
double cli_positive_real(const char *option, const char *arg);
double cli_bytes(const char *option, const char *arg);

#endif
