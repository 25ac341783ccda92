/*
 * schedule.c — warmup + cosine learning rate (CS336 assignment 1, 4.4).
 */
#include "optim/schedule.h"

#include <math.h>

double lr_at(const lr_schedule *s, long it)
{
	if (it < s->warmup_iters)
		return s->lr_max * (double)it / (double)s->warmup_iters;
	if (it <= s->cosine_cycle_iters) {
		long span = s->cosine_cycle_iters - s->warmup_iters;
		double progress = span > 0 ? (double)(it - s->warmup_iters) / (double)span : 1.0;
		return s->lr_min + 0.5 * (1.0 + cos(M_PI * progress)) * (s->lr_max - s->lr_min);
	}
	return s->lr_min;
}
