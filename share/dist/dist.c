/*
 * dist.c — ranks from the launcher's environment; MPI collectives when the
 * build has MPI (LMPIPE_MPI) and an MPI launcher started more than one
 * rank; NCCL ones (dist_nccl.c) once dist_use_gpu made a communicator and
 * there is no MPI. Without CUDA the GPU entry points fail here, saying so.
 */
#include "dist/dist.h"
#include "dist/dist_nccl.h"
#include "util/error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LMPIPE_MPI
#include <mpi.h>
#endif

/* ---- the environment ----------------------------------------------------- */

/* One launcher's variables: rank, size, and the rank on this machine. The
 * spawner's come first: lm-train --gpus may run inside a Slurm allocation,
 * whose SLURM_* variables its ranks inherit. */
static const struct {
	const char *name, *rank, *size, *local;
} launchers[] = {
	{DIST_SPAWNER, DIST_ENV_RANK, DIST_ENV_WORLD_SIZE, DIST_ENV_LOCAL_RANK},
	{"mpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
	{"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"},
	{"pmix", "PMIX_RANK", "PMIX_SIZE", NULL},
	{"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
};
enum { N_LAUNCHERS = sizeof launchers / sizeof launchers[0], SPAWNER_AT = 0 };

/* 1 and *out when NAME holds a number, 0 when unset, -1 when not a number. */
static int env_int(const char *name, int *out)
{
	const char *s = name ? getenv(name) : NULL;
	if (!s || !*s)
		return 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 0 || v > INT_MAX)
		return lm_fail("bad %s '%s' in the environment", name, s);
	*out = (int)v;
	return 1;
}

/* The local rank of launcher L: its own variable, else (for an MPI started
 * by another launcher, e.g. srun starting OpenMPI ranks) another MPI
 * launcher's, else the global rank (one rank a GPU, ranks in node order). */
static int env_local_rank(dist_ctx *d, size_t l)
{
	int v = 0, rc = env_int(launchers[l].local, &v);
	for (size_t i = 1; rc == 0 && l != SPAWNER_AT && i < N_LAUNCHERS; i++)
		rc = env_int(launchers[i].local, &v);
	if (rc < 0)
		return -1;
	if (rc == 0)
		v = d->rank;
	if (v >= d->nranks)
		return lm_fail("local rank %d of %d ranks from %s makes no sense", v, d->nranks,
			       launchers[l].name);
	d->local_rank = v;
	return 0;
}

int dist_probe(dist_ctx *d)
{
	memset(d, 0, sizeof *d);
	d->gpu = -1;
	for (size_t i = 0; i < N_LAUNCHERS; i++) {
		int r = 0, n = 0, hr = env_int(launchers[i].rank, &r), hn = env_int(launchers[i].size, &n);
		if (hr < 0 || hn < 0)
			return -1;
		if (hr && hn) {
			if (n < 1 || r >= n)
				return lm_fail("rank %d of %d from %s makes no sense",
					       r, n, launchers[i].size);
			d->rank = r;
			d->nranks = n;
			d->launcher = launchers[i].name;
			return env_local_rank(d, i);
		}
	}
	d->rank = 0;
	d->nranks = 1;
	d->launcher = "none";
	return 0;
}

/* ---- start and stop ------------------------------------------------------- */

bool dist_available(void)
{
#ifdef LMPIPE_MPI
	return true;
#else
	return false;
#endif
}

static bool spawned(const dist_ctx *d)
{
	return !strcmp(d->launcher, DIST_SPAWNER);
}

int dist_init(dist_ctx *d)
{
	if (dist_probe(d) != 0)
		return -1;
	if (d->nranks == 1) {
		snprintf(d->what, sizeof d->what, "1 rank");
		return 0;
	}
	snprintf(d->what, sizeof d->what, "%d ranks (%s), no transport yet", d->nranks, d->launcher);
	if (spawned(d))  /* NCCL carries everything, from dist_use_gpu on */
		return 0;
#ifdef LMPIPE_MPI
	if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
		return lm_fail("MPI_Init failed");
	d->mpi = true;
	int r, n;
	MPI_Comm_rank(MPI_COMM_WORLD, &r);
	MPI_Comm_size(MPI_COMM_WORLD, &n);
	if (r != d->rank || n != d->nranks) {
		dist_finalize(d);
		return lm_fail("MPI says rank %d of %d, the %s environment rank %d of %d",
			       r, n, d->launcher, d->rank, d->nranks);
	}
	snprintf(d->what, sizeof d->what, "MPI over %d ranks (%s)", d->nranks, d->launcher);
	return 0;
#else
	return lm_fail("launched as rank %d of %d, but built without MPI "
		       "(install libopenmpi-dev and rebuild)", d->rank, d->nranks);
#endif
}

void dist_finalize(dist_ctx *d)
{
#ifdef LMPIPE_CUDA
	if (d->nccl)
		dist_nccl_close(d);
#endif
#ifdef LMPIPE_MPI
	if (d->mpi)
		MPI_Finalize();
#endif
	d->mpi = false;
}

void dist_abort(dist_ctx *d, int code)
{
#ifdef LMPIPE_MPI
	if (d->mpi)
		MPI_Abort(MPI_COMM_WORLD, code);
#endif
	exit(code);
}

int dist_local_rank(const dist_ctx *d)
{
	return d->local_rank;
}

/* ---- collectives ---------------------------------------------------------- */

#ifdef LMPIPE_MPI
/* MPI counts are int: large buffers go in chunks. */
#define MPI_CHUNK ((size_t)1 << 30)

static int mpi_allreduce(void *buf, size_t n, dist_type t, dist_op op, const char *what)
{
	MPI_Datatype type = t == DIST_F64 ? MPI_DOUBLE : t == DIST_F32 ? MPI_FLOAT : MPI_INT;
	size_t elem = t == DIST_F64 ? sizeof(double) : t == DIST_F32 ? sizeof(float) : sizeof(int);
	for (size_t i = 0; i < n; i += MPI_CHUNK) {
		size_t k = n - i < MPI_CHUNK ? n - i : MPI_CHUNK;
		if (MPI_Allreduce(MPI_IN_PLACE, (char *)buf + i * elem, (int)k, type,
				  op == DIST_SUM ? MPI_SUM : MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
			return lm_fail("MPI_Allreduce of %s failed", what);
	}
	return 0;
}

static int mpi_broadcast(void *buf, size_t n, int root)
{
	for (size_t i = 0; i < n; i += MPI_CHUNK) {
		size_t k = n - i < MPI_CHUNK ? n - i : MPI_CHUNK;
		if (MPI_Bcast((char *)buf + i, (int)k, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
			return lm_fail("MPI_Bcast failed");
	}
	return 0;
}
#endif

/* Ranks of the --gpus spawner before dist_use_gpu: nothing joins them. */
static int no_transport(const dist_ctx *d)
{
	return lm_fail("rank %d of %d (%s) cannot reach the others: ranks started by "
		       "--gpus talk through NCCL, on the GPU", d->rank, d->nranks, d->launcher);
}

/* In place over the ranks: MPI when started, else NCCL when made. */
static int reduce(dist_ctx *d, void *buf, size_t n, dist_type t, dist_op op, const char *what)
{
	(void)what;
#ifdef LMPIPE_MPI
	if (d->mpi)
		return mpi_allreduce(buf, n, t, op, what);
#endif
#ifdef LMPIPE_CUDA
	if (d->nccl)
		return dist_nccl_allreduce_host(d, buf, n, t, op);
#endif
	return d->nranks == 1 ? 0 : no_transport(d);
}

int dist_allreduce_mean(dist_ctx *d, float *buf, size_t n)
{
	if (d->nranks == 1 && !d->nccl)
		return 0;
	if (reduce(d, buf, n, DIST_F32, DIST_SUM, "gradients") != 0)
		return -1;
	if (d->nranks == 1)
		return 0;
	float inv = 1.0f / (float)d->nranks;
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		buf[i] *= inv;
	return 0;
}

int dist_allreduce_sum_f64(dist_ctx *d, double *buf, size_t n)
{
	return reduce(d, buf, n, DIST_F64, DIST_SUM, "sums");
}

int dist_allreduce_max_int(dist_ctx *d, int *v)
{
	return reduce(d, v, 1, DIST_I32, DIST_MAX, "a flag");
}

int dist_broadcast(dist_ctx *d, void *buf, size_t n, int root)
{
#ifdef LMPIPE_MPI
	if (d->mpi)
		return mpi_broadcast(buf, n, root);
#endif
#ifdef LMPIPE_CUDA
	if (d->nccl)
		return dist_nccl_broadcast_host(d, buf, n, root);
#endif
	return d->nranks == 1 ? 0 : no_transport(d);
}

int dist_barrier(dist_ctx *d)
{
#ifdef LMPIPE_MPI
	if (d->mpi)
		return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : lm_fail("MPI_Barrier failed");
#endif
	int one = 1;  /* NCCL has no barrier: a one-int all-reduce is one */
	return reduce(d, &one, 1, DIST_I32, DIST_MAX, "a barrier");
}

/* ---- the GPU path, in a build without CUDA ----------------------------------- */

#ifndef LMPIPE_CUDA
#define NO_CUDA "no GPUs: built without CUDA and NCCL (make CUDA=1 where nvcc and NCCL are installed)"

int dist_use_gpu(dist_ctx *d)
{
	return lm_fail(NO_CUDA);
}

int dist_allreduce_mean_dev(dist_ctx *d, float *dev_buf, const size_t *offset,
			    const size_t *count, int num_spans, void *cuda_stream)
{
	return lm_fail(NO_CUDA);
}

int dist_gpu_count(void)
{
	return lm_fail(NO_CUDA);
}

int dist_nccl_id_hex(char out[DIST_NCCL_ID_HEX])
{
	return lm_fail(NO_CUDA);
}
#endif
