/*
 * threads.c — the default thread count and OpenMP's wait policy (see
 * threads.h for why).
 */
#include "util/threads.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

int threads_default(int max)
{
	cpu_set_t set;
	long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
							     : sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > max ? max : (int)n;
}

void threads_init(char **argv)
{
	if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
		return;
	if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
		return;
	/* /proc/self/exe: the very binary running, whatever PATH or argv[0] say */
	execv("/proc/self/exe", argv);
	/* not executed again: this process keeps libgomp's spinning default */
}
