/*
 * par.h — when the ops go parallel. An OpenMP region costs a few
 * microseconds to open and far more when the machine is oversubscribed
 * (threads spin at the barrier waiting for a descheduled peer), so loops
 * with less work than this run on one thread. Results do not depend on it:
 * every loop gives each output element to exactly one thread.
 */
#ifndef LMPIPE_PAR_H
#define LMPIPE_PAR_H

#define PAR_MIN_WORK 65536L   /* multiply-adds (or elements) */

#endif
