/*
 * timer.h — the one clock the tools time things with: CLOCK_MONOTONIC, so
 * an interval never goes backwards when the wall clock is set.
 *
 *     double t0 = timer_now();
 *     ...
 *     fprintf(stderr, "%.2f s\n", timer_since(t0));
 */
#ifndef LMPIPE_TIMER_H
#define LMPIPE_TIMER_H

/* Seconds on the monotonic clock, from an arbitrary origin: for intervals. */
double timer_now(void);

/* Seconds since T0, a timer_now() value. */
double timer_since(double t0);

#endif
