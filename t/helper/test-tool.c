/*
 * test-tool — reaches into share/ for the test scripts, after git's
 * t/helper/test-tool. One subcommand a file t/helper/test-NAME.c defining
 * `int cmd__NAME(int argc, char **argv)`; the Makefile generates the table.
 *
 *   test-tool NAME [ARGS...]
 */
#include "util/error.h"

#include <stdio.h>
#include <string.h>

#define CMD(name) int cmd__##name(int argc, char **argv);
#include "cmds.h"
#undef CMD

struct test_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

#define CMD(name) {#name, cmd__##name},
static const struct test_cmd cmds[] = {
#include "cmds.h"
};
#undef CMD

int main(int argc, char **argv)
{
	lm_set_progname("test-tool");
	if (argc >= 2) {
		char name[128];
		snprintf(name, sizeof name, "%s", argv[1]);
		for (char *p = name; *p; p++)
			if (*p == '-')
				*p = '_';
		for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
			if (strcmp(cmds[i].name, name) == 0)
				return cmds[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "usage: test-tool COMMAND [ARGS...]\ncommands:");
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		fprintf(stderr, " %s", cmds[i].name);
	fputc('\n', stderr);
	return 2;
}
