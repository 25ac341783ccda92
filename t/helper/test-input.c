/*
 * test-tool input — share/text/input.c: the pieces of text a file yields.
 *
 *   test-tool input [-k KEY] [-d] FILE
 *
 * Writes the pieces to stdout, back to back; with -d, a line "@doc" before
 * each document; at the end, "links N" on stderr when N links were skipped.
 * Ends with status 1 and the error on stderr on a failure.
 */
#include "text/input.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cmd__input(int argc, char **argv)
{
	const char *key = NULL;
	int marks = 0, opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "k:d")) != -1) {
		if (opt == 'k')
			key = optarg;
		else if (opt == 'd')
			marks = 1;
		else
			return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: test-tool input [-k KEY] [-d] FILE\n");
		return 2;
	}
	text_input *in = text_input_open(argv[optind], key);
	if (!in)
		lm_die_last();
	const uint8_t *buf;
	bool doc;
	long n;
	while ((n = text_input_read(in, &buf, &doc)) > 0) {
		if (doc && marks)
			fputs("@doc\n", stdout);
		fwrite(buf, 1, (size_t)n, stdout);
	}
	if (text_input_links_skipped(in))
		fprintf(stderr, "links %llu\n", (unsigned long long)text_input_links_skipped(in));
	text_input_close(in);
	if (n < 0)
		lm_die_last();
	return fflush(stdout) == 0 ? 0 : 1;
}
