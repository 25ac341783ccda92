/*
 * cli.h — the one command-line skeleton every tool follows.
 *
 * Each tool parses with getopt_long (through cli_getopt), using the same long names for the same
 * things everywhere (--help, --version, --json, -o/--output, -j/--threads,
 * -v/--verbose, -f/--force), into the same shape:
 *
 *     struct options { ... };                   // what the flags asked for
 *
 *     static void usage(void);                  // the help text, on stdout
 *
 *     // CLI_RUN: go on; anything else is the exit status main returns
 *     // (0 after --help or --version, EXIT_USAGE after a usage error).
 *     static int parse_options(int argc, char **argv, struct options *o)
 *     {
 *         static const struct option longopts[] = {..., CLI_COMMON_OPTIONS, {0}};
 *         *o = (struct options){.threads = threads_default(MAX_THREADS), ...};
 *         int opt, rc = 0;
 *         while (rc == 0 && (opt = cli_getopt(argc, argv, "j:...h", longopts)) != -1) {
 *             switch (opt) {
 *             case 'j': rc = cli_arg_int("--threads", optarg, 1, MAX_THREADS, &o->threads); break;
 *             ...                        // model flags: config_flags_arg (model/config_flags.h)
 *             default: return cli_common_option(opt, usage);
 *             }
 *         }
 *         if (rc != 0)
 *             return rc;
 *         if (...)                               // checks across options
 *             return cli_usage_error("...");
 *         return CLI_RUN;
 *     }
 *
 *     int main(int argc, char **argv)
 *     {
 *         lm_set_progname(argv[0]);
 *         struct options o;
 *         int status = parse_options(argc, argv, &o);
 *         if (status != CLI_RUN)
 *             return status;
 *         ...
 *     }
 *
 * Nothing here exits: the helpers print what is wrong and return the status,
 * and main decides. --help prints to stdout and exits 0; --version prints
 * "TOOL (lmpipe) VERSION (FEATURES)" to stdout and exits 0; a usage error
 * prints "TOOL: what is wrong" and "Try 'TOOL --help' ..." to stderr, nothing
 * to stdout, and exits 2. A -j/--threads default is threads_default(MAX)
 * (util/threads.h): the CPUs of the process's affinity mask.
 */
#ifndef LMPIPE_CLI_H
#define LMPIPE_CLI_H

#include <getopt.h>
#include <stdint.h>

/* Long-option ids above any short option character. */
enum { OPT_HELP = 'h', OPT_VERSION = 0x100, OPT_TOOL_BASE = 0x200 };

/* What parse_options returns when the tool should run; any other value is
 * the exit status. */
enum { CLI_RUN = -1 };

#define CLI_COMMON_OPTIONS                                  \
	{"help", no_argument, NULL, OPT_HELP},              \
	{"version", no_argument, NULL, OPT_VERSION}

/* getopt_long, whose own messages (an unknown option, a missing value) are
 * prefixed by the tool's name, not by argv[0]'s path. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* For a getopt_long switch's default: --help prints usage() and returns 0,
 * --version prints the version line and returns 0; anything else (getopt
 * has named the bad option on stderr) prints the --help hint and returns
 * EXIT_USAGE. */
int cli_common_option(int opt, void (*usage)(void));

/* Print "TOOL: message" and the --help hint on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Option values: 0 with *v set, or the usage error printed (naming OPTION
 * and ARG) and EXIT_USAGE, *v untouched. */
int cli_arg_count(const char *option, const char *arg, uint64_t *v);
int cli_arg_int(const char *option, const char *arg, int lo, int hi, int *v);
int cli_arg_real(const char *option, const char *arg, double *v);
int cli_arg_positive_real(const char *option, const char *arg, double *v);
int cli_arg_bytes(const char *option, const char *arg, double *v);

#endif
