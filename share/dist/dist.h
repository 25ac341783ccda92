/*
 * dist.h — data parallelism across processes: which rank am I, and the
 * collectives the training loop needs (all-reduce, broadcast).
 *
 * Ranks come from the launcher's environment: OpenMPI's mpirun
 * (OMPI_COMM_WORLD_RANK/SIZE), PMI-based launchers (PMI_RANK/PMI_SIZE,
 * MPICH, Intel MPI) and Slurm's srun (SLURM_PROCID/SLURM_NTASKS). With one
 * rank (or no launcher) every collective is the identity and MPI is not
 * started at all. Built without MPI (no mpicc at build time), a launch with
 * more than one rank is an error, never a silent single-rank run.
 *
 * Every collective is deterministic for a fixed number of ranks: the sum of
 * the same R contributions is taken in the same order on each call, so two
 * runs with the same inputs produce the same bits.
 *
 *     dist_ctx d;
 *     if (dist_init(&d) != 0) die(lm_last_error());
 *     ... accumulate grads ...
 *     dist_allreduce_mean(&d, grads, n);     // sum over ranks, then / R
 *     if (d.rank == 0) write_checkpoint();
 *     dist_finalize(&d);
 */
#ifndef LMPIPE_DIST_H
#define LMPIPE_DIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
	int rank;        /* 0..nranks-1 */
	int nranks;
	bool mpi;        /* MPI was started by dist_init (and is ended by dist_finalize) */
	const char *launcher; /* "mpi", "pmi", "slurm" or "none" */
} dist_ctx;

/* True when this build can run more than one rank. */
bool dist_available(void);

/* Find the rank and size in the environment and start MPI if more than one
 * rank. -1 with an error: a multi-rank launch without MPI support, an
 * environment that disagrees with MPI, MPI failing to start. */
int dist_init(dist_ctx *d);
/* End MPI if dist_init started it. */
void dist_finalize(dist_ctx *d);
/* Abort every rank (after an error on one of them): MPI_Abort, or exit. */
void dist_abort(dist_ctx *d, int code);

/* buf[i] = (sum over ranks of buf[i]) / nranks, in place. */
int dist_allreduce_mean(dist_ctx *d, float *buf, size_t n);
/* buf[i] = sum over ranks of buf[i], in place (double: losses and counts). */
int dist_allreduce_sum_f64(dist_ctx *d, double *buf, size_t n);
/* The largest value of v over ranks (a stop flag every rank agrees on). */
int dist_allreduce_max_int(dist_ctx *d, int *v);
/* Copy root's n bytes to every rank. */
int dist_broadcast(dist_ctx *d, void *buf, size_t n, int root);
int dist_barrier(dist_ctx *d);

#endif
