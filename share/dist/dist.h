/*
 * dist.h — data parallelism across processes: which rank am I, and the
 * collectives the training loop needs (all-reduce, broadcast).
 *
 * Ranks come from the launcher's environment: lm-train's own --gpus
 * spawner (LMPIPE_RANK/LMPIPE_WORLD_SIZE, launcher "gpus"), OpenMPI's
 * mpirun (OMPI_COMM_WORLD_RANK/SIZE), PMI-based launchers
 * (PMI_RANK/PMI_SIZE: MPICH, Intel MPI) and Slurm's srun
 * (SLURM_PROCID/SLURM_NTASKS). With one rank (or no launcher) every
 * collective is the identity and MPI is not started at all. Under mpirun,
 * srun or PMI with more than one rank, MPI is started; built without MPI
 * (no mpicc at build time) such a launch is an error, never a silent
 * single-rank run. Ranks from the --gpus spawner never start MPI: they
 * talk through NCCL alone, once dist_use_gpu has made the communicator.
 *
 * The GPU path (a CUDA build: dist_nccl.c). dist_use_gpu() gives this rank
 * its GPU and an NCCL communicator over all ranks. After it:
 *   - dist_allreduce_mean_dev() averages device buffers (the gradients);
 *   - the host collectives below go through MPI when MPI was started (the
 *     NCCL id travels by MPI_Bcast), else through NCCL, host buffers staged
 *     through a small device buffer (so --gpus 1 runs the NCCL path too).
 * Without CUDA these are declared all the same and fail with a clear error.
 *
 * Every collective is deterministic for a fixed number of ranks: the sum of
 * the same R contributions is taken in the same order on each call, so two
 * runs with the same inputs produce the same bits (NCCL: see dist_nccl.c).
 *
 *     dist_ctx d;
 *     if (dist_init(&d) != 0) die(lm_last_error());
 *     if (cuda && dist_use_gpu(&d) != 0) die(lm_last_error());
 *     ... accumulate grads ...
 *     dist_allreduce_mean(&d, grads, n);     // sum over ranks, then / R
 *     if (d.rank == 0) write_checkpoint();
 *     dist_finalize(&d);
 */
#ifndef LMPIPE_DIST_H
#define LMPIPE_DIST_H

#include <stdbool.h>
#include <stddef.h>

/* What lm-train --gpus N sets for each of the N copies of itself it starts. */
#define DIST_ENV_RANK "LMPIPE_RANK"
#define DIST_ENV_WORLD_SIZE "LMPIPE_WORLD_SIZE"
#define DIST_ENV_LOCAL_RANK "LMPIPE_LOCAL_RANK"
#define DIST_ENV_NCCL_ID "LMPIPE_NCCL_ID"     /* hex of the 128-byte ncclUniqueId */
enum { DIST_NCCL_ID_BYTES = 128, DIST_NCCL_ID_HEX = 2 * DIST_NCCL_ID_BYTES + 1 };

typedef struct {
	int rank;        /* 0..nranks-1 */
	int nranks;
	int local_rank;  /* rank among the ranks of this machine: picks the GPU */
	bool mpi;        /* MPI was started by dist_init (and is ended by dist_finalize) */
	const char *launcher; /* "gpus", "mpi", "pmi", "pmix", "slurm" or "none" */
	int gpu;         /* this rank's CUDA device after dist_use_gpu, else -1 */
	void *nccl;      /* the communicator and its staging buffer (dist_nccl.c), or NULL */
	char what[256];  /* for a start line: "MPI over 2 ranks (mpi)", "NCCL 2.28.9 over ..." */
} dist_ctx;

/* True when this build can run more than one rank on CPUs (MPI). */
bool dist_available(void);

/* The rank, size, local rank and launcher the environment names, starting
 * nothing (dist_init begins with it). -1 with an error for values that make
 * no sense. */
int dist_probe(dist_ctx *d);
/* Find the rank and size in the environment and start MPI if more than one
 * rank under an MPI launcher. -1 with an error: a multi-rank launch without
 * MPI support, an environment that disagrees with MPI, MPI failing to start. */
int dist_init(dist_ctx *d);
/* End NCCL and MPI if this context started them. */
void dist_finalize(dist_ctx *d);
/* Abort every rank (after an error on one of them): MPI_Abort, or exit
 * (the --gpus spawner stops the other ranks when one fails). */
void dist_abort(dist_ctx *d, int code);

/* This rank's index among the ranks of its machine (the launcher's
 * OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, MPI_LOCALRANKID or
 * LMPIPE_LOCAL_RANK; the global rank when it names none). */
int dist_local_rank(const dist_ctx *d);

/* buf[i] = (sum over ranks of buf[i]) / nranks, in place. */
int dist_allreduce_mean(dist_ctx *d, float *buf, size_t n);
/* buf[i] = sum over ranks of buf[i], in place (double: losses and counts). */
int dist_allreduce_sum_f64(dist_ctx *d, double *buf, size_t n);
/* The largest value of v over ranks (a stop flag every rank agrees on). */
int dist_allreduce_max_int(dist_ctx *d, int *v);
/* Copy root's n bytes to every rank. */
int dist_broadcast(dist_ctx *d, void *buf, size_t n, int root);
int dist_barrier(dist_ctx *d);

/* ---- the GPU path (CUDA builds; elsewhere each fails naming the cause) ---- */

/* Pick this rank's GPU (cudaSetDevice(local rank % visible GPUs)) and make
 * the NCCL communicator over all ranks, a one-rank one included. The NCCL
 * id: rank 0 makes it and MPI_Bcast carries it when MPI was started; ranks
 * of the --gpus spawner read LMPIPE_NCCL_ID; a lone rank makes its own.
 * Call it after dist_init and before any CUDA allocation. Unless NCCL_ALGO
 * is set, NCCL's NVLink SHARP algorithms (NVLS, NVLSTree: reductions in the
 * switch, not bitwise reproducible) are left out. */
int dist_use_gpu(dist_ctx *d);
/* dev_buf[i] = mean over ranks, in place, for the fp32 values of device
 * memory in spans [offset[k], offset[k] + count[k]), k < num_spans, as one
 * grouped launch enqueued on cuda_stream (a cudaStream_t; NULL: the legacy
 * default stream): the result is there once that stream reaches it, and
 * the next host collective waits for it on the device. Every rank must
 * pass the same spans. The identity for one rank without dist_use_gpu. */
int dist_allreduce_mean_dev(dist_ctx *d, float *dev_buf, const size_t *offset,
			    const size_t *count, int num_spans, void *cuda_stream);

/* For the --gpus spawner, before it starts the ranks: the GPUs this process
 * sees (-1 with an error when there are none or no CUDA), and a fresh NCCL
 * id as DIST_NCCL_ID_HEX-1 hex digits. The process that makes the id
 * serves NCCL's start-up (bootstrap) to the ranks: it must live until they
 * have all made their communicator. */
int dist_gpu_count(void);
int dist_nccl_id_hex(char out[DIST_NCCL_ID_HEX]);

#endif
