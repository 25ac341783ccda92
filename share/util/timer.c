/*
 * timer.c — seconds on the monotonic clock, and the process's CPU time (see
 * timer.h).
 */
#include "util/timer.h"

#include <time.h>

static double clock_seconds(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double timer_now(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

double timer_since(double t0)
{
	return timer_now() - t0;
}

double timer_cpu_now(void)
{
	return clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}
