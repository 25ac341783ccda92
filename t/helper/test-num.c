/*
 * test-tool num — the number parsers and formatters of share/util/num.c.
 *
 *   test-tool num count|real|bytes VALUE...   one parsed value a line
 *   test-tool num commas|si|size|duration X   formatted
 */
#include "util/error.h"
#include "util/num.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_each(const char *kind, int argc, char **argv)
{
	int rc = 0;
	for (int i = 0; i < argc; i++) {
		uint64_t u;
		double d;
		int ok;
		if (strcmp(kind, "count") == 0) {
			ok = num_parse_count(argv[i], &u) == 0;
			if (ok)
				printf("%llu\n", (unsigned long long)u);
		} else {
			ok = (strcmp(kind, "real") == 0 ? num_parse_real(argv[i], &d)
							: num_parse_bytes(argv[i], &d)) == 0;
			if (ok)
				printf("%.17g\n", d);
		}
		if (!ok) {
			printf("error: %s\n", lm_last_error());
			rc = 1;
		}
	}
	return rc;
}

int cmd__num(int argc, char **argv)
{
	char buf[32];
	if (argc < 3)
		return 2;
	const char *kind = argv[1];
	if (!strcmp(kind, "count") || !strcmp(kind, "real") || !strcmp(kind, "bytes"))
		return parse_each(kind, argc - 2, argv + 2);
	double x = strtod(argv[2], NULL);
	if (!strcmp(kind, "commas"))
		puts(num_commas(strtoull(argv[2], NULL, 10), buf));
	else if (!strcmp(kind, "si"))
		puts(num_si(x, argc > 3 ? argv[3] : "", buf));
	else if (!strcmp(kind, "size"))
		puts(num_bytes(x, buf));
	else if (!strcmp(kind, "duration"))
		puts(num_duration(x, buf));
	else
		return 2;
	return 0;
}
