/*
 * run_summary.h — what a training run came to, from its log.
 */
#ifndef LMPIPE_RUN_SUMMARY_H
#define LMPIPE_RUN_SUMMARY_H

#include "train/log.h"

typedef struct {
	long steps;             /* last step logged */
	double tokens;          /* tokens trained on */
	double last_loss;       /* mean train loss of the last (up to) 10 steps */
	double best_val_loss;   /* NaN if no evaluation */
	long best_val_step;
	double last_val_loss;
	double hellaswag;       /* last, NaN if none */
	double tok_s;           /* median over the steps, the first left out (warm-up) */
	double mfu;             /* median likewise */
	double hours;           /* sum of step times */
} run_summary;

void run_summary_compute(const run_log *run, run_summary *s);

#endif
