/*
 * test-tool eval — share/eval: what the HellaSwag reader makes of a file.
 *
 *   test-tool eval hellaswag [-s llmc|harness] [-n LIMIT] FILE
 *       one block an item: "@N line L label X", "ctx: ...", then "e0: ..." to "e3: ...",
 *       with the lengths in characters the harness divides by: "c0 c1 c2 c3"
 *   test-tool eval preprocess TEXT     lm-evaluation-harness's preprocess(TEXT)
 *   test-tool eval count [-s STYLE] FILE   items, form, and label counts
 */
#include "eval/hellaswag.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_set(int argc, char **argv, hs_set *s)
{
	hs_style style = HS_STYLE_LLMC;
	size_t limit = 0;
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		if (opt == 's' && hellaswag_style_parse(optarg, &style) == 0)
			continue;
		if (opt == 'n') {
			limit = strtoul(optarg, NULL, 10);
			continue;
		}
		return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: test-tool eval hellaswag|count [-s STYLE] [-n N] FILE\n");
		return 2;
	}
	if (hellaswag_read(s, argv[optind], style, limit) != 0)
		lm_die_last();
	return 0;
}

static int cmd_items(int argc, char **argv)
{
	hs_set s;
	int rc = read_set(argc, argv, &s);
	if (rc)
		return rc;
	for (size_t i = 0; i < s.n; i++) {
		const hs_item *it = &s.items[i];
		printf("@%zu line %zu label %d\nctx: %s\n", i, it->line, it->label, it->ctx);
		for (int j = 0; j < HS_CHOICES; j++)
			printf("e%d: %s\n", j, it->ending[j]);
		for (int j = 0; j < HS_CHOICES; j++)
			printf("%zu%c", hellaswag_charlen(it->ending[j]), j == HS_CHOICES - 1 ? '\n' : ' ');
	}
	hellaswag_free(&s);
	return 0;
}

static int cmd_count(int argc, char **argv)
{
	hs_set s;
	int rc = read_set(argc, argv, &s);
	if (rc)
		return rc;
	size_t c[HS_CHOICES] = {0};
	for (size_t i = 0; i < s.n; i++)
		c[s.items[i].label]++;
	printf("%zu items, form %s\n", s.n, s.form == HS_FORM_JSONL ? "jsonl" : "text");
	for (int j = 0; j < HS_CHOICES; j++)
		printf("label %d: %zu\n", j, c[j]);
	hellaswag_free(&s);
	return 0;
}

int cmd__eval(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test-tool eval hellaswag|count|preprocess ...\n");
		return 2;
	}
	if (strcmp(argv[1], "hellaswag") == 0)
		return cmd_items(argc - 1, argv + 1);
	if (strcmp(argv[1], "count") == 0)
		return cmd_count(argc - 1, argv + 1);
	if (strcmp(argv[1], "preprocess") == 0 && argc == 3) {
		char *p = hellaswag_preprocess(argv[2]);
		if (!p)
			lm_die_last();
		printf("%s|\n", p);
		free(p);
		return 0;
	}
	fprintf(stderr, "test-tool eval: unknown subcommand '%s'\n", argv[1]);
	return 2;
}
