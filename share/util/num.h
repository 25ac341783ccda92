/*
 * num.h — numbers as people write them, and as people read them.
 *
 * Parsing accepts what a user types on a command line: 124439808,
 * 124_439_808, 1e6, 10B (tokens), 19.5T (FLOP/s), 80GB, 80GiB.
 * SI suffixes: K=1e3 M=1e6 G=B=1e9 T=1e12 P=1e15; binary: Ki Mi Gi Ti.
 * Every parser returns -1 with an lm_fail message on anything else, so a
 * typo never becomes a silent zero.
 */
#ifndef LMPIPE_NUM_H
#define LMPIPE_NUM_H

#include <stddef.h>
#include <stdint.h>

/* 2^53: a double holds every whole number up to here exactly. */
#define NUM_EXACT_MAX 9007199254740992.0

/* A finite real number, SI suffix allowed ("19.5T", "0.5", "6e-4"). */
int num_parse_real(const char *s, double *out);
/* A non-negative integer up to 2^53, SI suffix allowed if the result is
 * integral; a larger one is an error that says so. */
int num_parse_count(const char *s, uint64_t *out);
/* A byte size: "80GB" = 80e9, "80GiB" = 80*2^30, "512M" = 512e6. */
int num_parse_bytes(const char *s, double *out);

/* 124439808 -> "124,439,808". buf needs 32 bytes. */
char *num_commas(uint64_t v, char *buf);
/* A whole count held in a double: commas below 2^64, else 1.234567e+30. */
char *num_commas_real(double v, char *buf);
/* 4.5133e12, "FLOP" -> "4.51 TFLOP"; 3 significant digits. buf: 32 bytes. */
char *num_si(double v, const char *unit, char *buf);
/* 34.03e9 -> "34.03 GB" (decimal, two decimals; up to YB, then an
 * exponent). buf: 32 bytes. */
char *num_bytes(double v, char *buf);
/* seconds -> "18.0 years", "3.2 days", "4.1 hours", "12 min", "3.4 s". */
char *num_duration(double seconds, char *buf);

#endif
