/*
 * dist.c — ranks from the launcher's environment; MPI collectives when the
 * build has MPI (LMPIPE_MPI) and the launch has more than one rank.
 */
#include "dist/dist.h"
#include "util/error.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef LMPIPE_MPI
#include <mpi.h>
#endif

/* ---- the environment ----------------------------------------------------- */

/* One launcher's pair of variables. */
static const struct {
	const char *name, *rank, *size;
} launchers[] = {
	{"mpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
	{"pmi", "PMI_RANK", "PMI_SIZE"},
	{"pmix", "PMIX_RANK", "PMIX_SIZE"},
	{"slurm", "SLURM_PROCID", "SLURM_NTASKS"},
};

static int env_int(const char *name, int *out)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 0 || v > INT_MAX)
		return lm_fail("bad %s '%s' in the environment", name, s);
	*out = (int)v;
	return 1;
}

/* Rank and size from the first launcher whose variables are both set. */
static int env_ranks(dist_ctx *d)
{
	for (size_t i = 0; i < sizeof launchers / sizeof launchers[0]; i++) {
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
			return 0;
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

int dist_init(dist_ctx *d)
{
	memset(d, 0, sizeof *d);
	if (env_ranks(d) != 0)
		return -1;
	if (d->nranks == 1)
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
	return 0;
#else
	return lm_fail("launched as rank %d of %d, but built without MPI "
		       "(install libopenmpi-dev and rebuild)", d->rank, d->nranks);
#endif
}

void dist_finalize(dist_ctx *d)
{
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

/* ---- collectives ---------------------------------------------------------- */

#ifdef LMPIPE_MPI
/* MPI counts are int: large buffers go in chunks. */
#define MPI_CHUNK ((size_t)1 << 30)

static int allreduce(void *buf, size_t n, size_t elem, MPI_Datatype type, MPI_Op op, const char *what)
{
	for (size_t i = 0; i < n; i += MPI_CHUNK) {
		size_t k = n - i < MPI_CHUNK ? n - i : MPI_CHUNK;
		if (MPI_Allreduce(MPI_IN_PLACE, (char *)buf + i * elem, (int)k, type, op,
				  MPI_COMM_WORLD) != MPI_SUCCESS)
			return lm_fail("MPI_Allreduce of %s failed", what);
	}
	return 0;
}
#endif

int dist_allreduce_mean(dist_ctx *d, float *buf, size_t n)
{
	if (d->nranks == 1)
		return 0;
#ifdef LMPIPE_MPI
	if (allreduce(buf, n, sizeof *buf, MPI_FLOAT, MPI_SUM, "gradients") != 0)
		return -1;
	float inv = 1.0f / (float)d->nranks;
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		buf[i] *= inv;
	return 0;
#else
	return lm_fail("no MPI in this build");
#endif
}

int dist_allreduce_sum_f64(dist_ctx *d, double *buf, size_t n)
{
	if (d->nranks == 1)
		return 0;
#ifdef LMPIPE_MPI
	return allreduce(buf, n, sizeof *buf, MPI_DOUBLE, MPI_SUM, "sums");
#else
	return lm_fail("no MPI in this build");
#endif
}

int dist_allreduce_max_int(dist_ctx *d, int *v)
{
	if (d->nranks == 1)
		return 0;
#ifdef LMPIPE_MPI
	return allreduce(v, 1, sizeof *v, MPI_INT, MPI_MAX, "a flag");
#else
	return lm_fail("no MPI in this build");
#endif
}

int dist_broadcast(dist_ctx *d, void *buf, size_t n, int root)
{
	if (d->nranks == 1)
		return 0;
#ifdef LMPIPE_MPI
	for (size_t i = 0; i < n; i += MPI_CHUNK) {
		size_t k = n - i < MPI_CHUNK ? n - i : MPI_CHUNK;
		if (MPI_Bcast((char *)buf + i, (int)k, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
			return lm_fail("MPI_Bcast failed");
	}
	return 0;
#else
	return lm_fail("no MPI in this build");
#endif
}

int dist_barrier(dist_ctx *d)
{
	if (d->nranks == 1)
		return 0;
#ifdef LMPIPE_MPI
	if (MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS)
		return lm_fail("MPI_Barrier failed");
	return 0;
#else
	return lm_fail("no MPI in this build");
#endif
}
