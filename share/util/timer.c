/*
 * timer.c — seconds on the monotonic clock (see timer.h).
 */
#include "util/timer.h"

#include <time.h>

double timer_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double timer_since(double t0)
{
	return timer_now() - t0;
}
