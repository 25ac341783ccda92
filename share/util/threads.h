/*
 * threads.h — how many threads a tool runs by default, and how its idle
 * OpenMP threads wait. One place, called from each tool's main.
 *
 * Count: the CPUs this process may run on (sched_getaffinity's mask), not
 * the machine's: under taskset or a container's cpuset, threads beyond
 * those CPUs only queue behind one another. libgomp already sizes its
 * default team this way (omp_get_max_threads() is 1 under taskset -c 0);
 * threads_default gives the same figure to the tools' own -j defaults.
 *
 * Waiting: libgomp's idle threads spin at every barrier before they sleep.
 * When another process holds a core, a spinning thread takes the time the
 * thread doing the work needs: a 2-thread lm-train ran 15 times slower
 * (bench/omp-wait.sh). The tools default to OMP_WAIT_POLICY=passive,
 * threads that sleep at once; a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT
 * is kept (OMP_WAIT_POLICY=active brings the spinning back).
 */
#ifndef LMPIPE_THREADS_H
#define LMPIPE_THREADS_H

/* The number of CPUs in this process's affinity mask, from 1 to MAX. */
int threads_default(int max);

/*
 * Called first in the main of a tool that runs OpenMP: when neither
 * OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, set OMP_WAIT_POLICY=passive
 * and execute the tool again, once, with the same arguments. libgomp reads
 * the variable in its own initializer, before main and before any of the
 * executable's constructors; even a .preinit_array function is too early,
 * as libc's initializer then resets the environment (measured, gcc 12).
 * If the tool cannot be executed again, it goes on with libgomp's default.
 */
void threads_init(char **argv);

#endif
