/*
 * schedule.h — the learning rate: linear warmup, then cosine decay to a
 * minimum, then flat. CS336's get_lr_cosine_schedule(it, max_learning_rate,
 * min_learning_rate, warmup_iters, cosine_cycle_iters), exactly:
 *
 *   it <  warmup_iters:                lr_max * it / warmup_iters
 *   it <= cosine_cycle_iters:          lr_min + (1 + cos(pi (it - warmup_iters)
 *                                         / (cosine_cycle_iters - warmup_iters)))
 *                                         / 2 * (lr_max - lr_min)
 *   after:                             lr_min
 *
 * lm-train(1)'s defaults: lr_max 6e-4, lr_min 10% of lr_max; cosine_cycle_iters
 * is usually the run's total steps.
 */
#ifndef LMPIPE_SCHEDULE_H
#define LMPIPE_SCHEDULE_H

#define LR_MAX_DEFAULT 6e-4
#define LR_MIN_RATIO_DEFAULT 0.1

typedef struct {
	double lr_max;            /* CS336: max_learning_rate */
	double lr_min;            /* CS336: min_learning_rate */
	long warmup_iters;        /* CS336: warmup_iters (T_w) */
	long cosine_cycle_iters;  /* CS336: cosine_cycle_iters (T_c), counted from 0 */
} lr_schedule;

/* The learning rate at iteration it (0-based). */
double lr_at(const lr_schedule *s, long it);

#endif
