/*
 * num.c — parse and format numbers for people.
 */
#include "util/num.h"
#include "util/error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ---------------------------------------------------------- */

struct suffix {
	const char *text;
	double scale;
};

static const struct suffix si_suffixes[] = {
	{"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
	{"K", 1e3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1e9}, {"T", 1e12}, {"P", 1e15},
	{"", 1.0},
};

/* Copy s without digit-group separators ('_' and ',') into buf. */
static int strip_separators(const char *s, char *buf, size_t cap)
{
	size_t n = 0;
	for (; *s; s++) {
		if (*s == '_' || *s == ',')
			continue;
		if (n + 1 >= cap)
			return -1;
		buf[n++] = *s;
	}
	buf[n] = '\0';
	return 0;
}

/* Parse "<real><suffix><unit>" where unit is "" or the given optional unit. */
static int parse_scaled(const char *s, const char *unit, double *out)
{
	char buf[128];
	if (!s || !*s || strip_separators(s, buf, sizeof buf) != 0)
		return lm_fail("invalid number '%s'", s ? s : "");
	errno = 0;
	char *end;
	double v = strtod(buf, &end);
	if (end == buf || errno == ERANGE || !isfinite(v))
		return lm_fail("invalid number '%s'", s);
	for (size_t i = 0; i < sizeof si_suffixes / sizeof si_suffixes[0]; i++) {
		size_t n = strlen(si_suffixes[i].text);
		if (strncmp(end, si_suffixes[i].text, n) != 0)
			continue;
		const char *rest = end + n;
		if (*rest == '\0' || (unit && strcmp(rest, unit) == 0)) {
			*out = v * si_suffixes[i].scale;
			return 0;
		}
	}
	return lm_fail("invalid number '%s'", s);
}

int num_parse_real(const char *s, double *out)
{
	return parse_scaled(s, NULL, out);
}

/* The largest count: every count is exact in a double, and a tool may add
 * to one (a shard index, a step) without wrapping around. */
#define COUNT_MAX ((unsigned long long)NUM_EXACT_MAX)

static int count_too_large(const char *s)
{
	return lm_fail("'%s' is too large (at most %llu, 2^53)", s, COUNT_MAX);
}

/* Digits only (after the separators): parsed as an integer, so that one
 * just past 2^53 is not rounded down to it by a double. 1 when S is not
 * digits only. */
static int parse_digits(const char *s, uint64_t *out)
{
	char buf[128];
	if (strip_separators(s, buf, sizeof buf) != 0 || !buf[0])
		return 1;
	for (const char *p = buf; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 1;
	errno = 0;
	unsigned long long v = strtoull(buf, NULL, 10);
	if (errno == ERANGE || v > COUNT_MAX)
		return count_too_large(s);
	*out = v;
	return 0;
}

int num_parse_count(const char *s, uint64_t *out)
{
	int rc = s ? parse_digits(s, out) : 1;
	if (rc <= 0)
		return rc;
	double v;
	if (parse_scaled(s, NULL, &v) != 0)
		return -1;
	if (v < 0 || v != floor(v))
		return lm_fail("'%s' is not a whole non-negative number", s);
	if (v > (double)COUNT_MAX)
		return count_too_large(s);
	*out = (uint64_t)v;
	return 0;
}

int num_parse_bytes(const char *s, double *out)
{
	if (parse_scaled(s, "B", out) != 0)
		return lm_fail("invalid size '%s' (e.g. 80GB, 80GiB, 512M)", s ? s : "");
	if (*out <= 0)
		return lm_fail("size '%s' must be positive", s);
	return 0;
}

/* ---- formatting ------------------------------------------------------- */

char *num_commas(uint64_t v, char *buf)
{
	char digits[24];
	int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
	int out = 0;
	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[out++] = ',';
		buf[out++] = digits[i];
	}
	buf[out] = '\0';
	return buf;
}

char *num_commas_real(double v, char *buf)
{
	if (v >= 0 && v < 0x1p64)
		return num_commas((uint64_t)v, buf);
	snprintf(buf, 32, "%.6e", v);
	return buf;
}

char *num_si(double v, const char *unit, char *buf)
{
	static const char prefixes[] = " KMGTPEZY";
	int p = 0;
	double a = fabs(v);
	while (a >= 999.5 && p < 8) {
		a /= 1000;
		v /= 1000;
		p++;
	}
	int decimals = a >= 99.95 ? 0 : a >= 9.995 ? 1 : 2;
	if (a >= 999.5)  /* beyond the last prefix: an exponent, not 30 digits */
		snprintf(buf, 32, "%.3g %c%s", v, prefixes[p], unit);
	else if (p == 0)
		snprintf(buf, 32, "%.*f %s", decimals, v, unit);
	else
		snprintf(buf, 32, "%.*f %c%s", decimals, v, prefixes[p], unit);
	return buf;
}

char *num_bytes(double v, char *buf)
{
	static const char *units[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
	int u = 0, last = (int)(sizeof units / sizeof units[0]) - 1;
	while (fabs(v) >= 1000 && u < last) {
		v /= 1000;
		u++;
	}
	snprintf(buf, 32, u == 0 ? "%.0f %s" : fabs(v) >= 1000 ? "%.3g %s" : "%.2f %s", v, units[u]);
	return buf;
}

char *num_duration(double s, char *buf)
{
	const double minute = 60, hour = 3600, day = 86400, year = 365.25 * 86400;
	if (s >= 1e6 * year)  /* no 40-digit year counts */
		snprintf(buf, 32, "%.3g years", s / year);
	else if (s >= year)
		snprintf(buf, 32, "%.1f years", s / year);
	else if (s >= 2 * day)
		snprintf(buf, 32, "%.1f days", s / day);
	else if (s >= 2 * hour)
		snprintf(buf, 32, "%.1f hours", s / hour);
	else if (s >= 2 * minute)
		snprintf(buf, 32, "%.0f min", s / minute);
	else
		snprintf(buf, 32, "%.1f s", s);
	return buf;
}
