/*
 * run_summary.c — best and last losses, throughput, from a run's records.
 */
#include "train/run_summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LAST_STEPS_AVERAGED 10

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of a field over train records, skipping the first step (warm-up). */
static double median_of(const run_log *run, size_t offset)
{
	double *v = malloc((run->n_records + 1) * sizeof *v);
	size_t n = 0;
	bool first = true;
	for (size_t i = 0; v && i < run->n_records; i++) {
		double x = *(const double *)((const char *)&run->records[i] + offset);
		if (isnan(x))
			continue;
		if (first) {
			first = false;
			continue;
		}
		v[n++] = x;
	}
	double m = NAN;
	if (n > 0) {
		qsort(v, n, sizeof *v, compare_doubles);
		m = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
	}
	free(v);
	return m;
}

static void summarize_losses(const run_log *run, run_summary *s)
{
	double sum = 0;
	int n = 0;
	for (size_t i = run->n_records; i-- > 0 && n < LAST_STEPS_AVERAGED;)
		if (!isnan(run->records[i].loss)) {
			sum += run->records[i].loss;
			n++;
		}
	s->last_loss = n ? sum / n : NAN;
	for (size_t i = 0; i < run->n_records; i++) {
		const log_record *r = &run->records[i];
		if (!isnan(r->val_loss)) {
			s->last_val_loss = r->val_loss;
			if (isnan(s->best_val_loss) || r->val_loss < s->best_val_loss) {
				s->best_val_loss = r->val_loss;
				s->best_val_step = r->step;
			}
		}
		if (!isnan(r->hellaswag))
			s->hellaswag = r->hellaswag;
	}
}

void run_summary_compute(const run_log *run, run_summary *s)
{
	memset(s, 0, sizeof *s);
	s->best_val_loss = s->last_val_loss = s->hellaswag = NAN;
	double ms = 0;
	for (size_t i = 0; i < run->n_records; i++) {
		const log_record *r = &run->records[i];
		if (r->step > s->steps)
			s->steps = r->step;
		if (!isnan(r->tokens) && r->tokens > s->tokens)
			s->tokens = r->tokens;
		if (!isnan(r->ms))
			ms += r->ms;
	}
	s->hours = ms / 3.6e6;
	summarize_losses(run, s);
	s->tok_s = median_of(run, offsetof(log_record, tok_s));
	s->mfu = median_of(run, offsetof(log_record, mfu));
}
