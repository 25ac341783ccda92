/*
 * dist_nccl.c — the GPU side of share/dist (CUDA builds only): this rank's
 * GPU, the NCCL communicator over all ranks, the all-reduce of device
 * buffers (the gradients), and dist.h's host collectives staged through a
 * small device buffer when there is no MPI to carry them.
 *
 * Determinism. NCCL's ring and tree all-reduces add the R contributions in
 * an order fixed by the algorithm, protocol and channel count, and NCCL
 * picks those from the topology, the rank count and the message size
 * alone; the reduced value is then forwarded, not recomputed, so every
 * rank holds the same bits. The same run on the same machines with the
 * same rank count therefore gives the same bits, and ncclAvg (each
 * contribution scaled by 1/R, then summed) keeps that. The exception is
 * NVLink SHARP (NCCL's NVLS and NVLSTree, on NVSwitch machines such as an
 * HGX H100): the switch adds in an order nothing fixes, and NVIDIA says so
 * (NVIDIA/nccl#1497). dist_use_gpu leaves those two out unless NCCL_ALGO is
 * already set (PyTorch's deterministic mode does the same), trading some
 * all-reduce bandwidth for reproducible runs.
 */
#include "dist/dist.h"
#include "dist/dist_nccl.h"
#include "util/error.h"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The host collectives go through this much device memory at a time
 * (they carry losses and flags: a few bytes, usually). */
#define STAGE_BYTES ((size_t)4 << 20)
/* NCCL_ALGO unless the user set one: everything but NVLink SHARP. */
#define DETERMINISTIC_ALGOS "^NVLS,NVLSTree"

typedef struct {
	ncclComm_t comm;
	cudaStream_t stream;   /* the host collectives' */
	void *stage;           /* STAGE_BYTES of device memory */
	/* the last device all-reduce, on the caller's stream: the host
	 * collectives wait for it, so that two collectives of the
	 * communicator never run at once on two streams (they could then
	 * run in a different order on two GPUs, and hang) */
	cudaEvent_t dev_done;
} nccl_state;

_Static_assert(sizeof(ncclUniqueId) == DIST_NCCL_ID_BYTES, "ncclUniqueId is 128 bytes");

/* ---- checks: every CUDA and NCCL call names itself, its file and line ------ */

static int cuda_check(cudaError_t e, const char *call, const char *file, int line)
{
	if (e == cudaSuccess)
		return 0;
	return lm_fail("CUDA: %s (%s at %s:%d)", cudaGetErrorString(e), call, file, line);
}

static int nccl_check(ncclResult_t r, const char *call, const char *file, int line)
{
	if (r == ncclSuccess)
		return 0;
	const char *detail = ncclGetLastError(NULL);
	return lm_fail("NCCL: %s%s%s (%s at %s:%d)", ncclGetErrorString(r),
		       detail && *detail ? ": " : "", detail ? detail : "", call, file, line);
}

#define CUDA_CHECK(call) cuda_check((call), #call, __FILE__, __LINE__)
#define NCCL_CHECK(call) nccl_check((call), #call, __FILE__, __LINE__)

/* ---- the id ---------------------------------------------------------------- */

static void hex_encode(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int hex_decode(const char *s, unsigned char *b, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int dist_nccl_id_hex(char out[DIST_NCCL_ID_HEX])
{
	ncclUniqueId id;
	if (NCCL_CHECK(ncclGetUniqueId(&id)) != 0)
		return lm_fail("cannot make an NCCL id: %s", lm_last_error());
	hex_encode((const unsigned char *)id.internal, sizeof id.internal, out);
	return 0;
}

static int id_from_env(ncclUniqueId *id)
{
	const char *s = getenv(DIST_ENV_NCCL_ID);
	if (!s)
		return lm_fail("no %s in the environment (set by lm-train --gpus)", DIST_ENV_NCCL_ID);
	if (hex_decode(s, (unsigned char *)id->internal, sizeof id->internal) != 0)
		return lm_fail("bad %s in the environment: not %d hex digits", DIST_ENV_NCCL_ID,
			       2 * DIST_NCCL_ID_BYTES);
	return 0;
}

/* Rank 0 makes the id and broadcasts it over MPI, with a flag so that the
 * others stop (rather than wait) when it could not. */
static int id_over_mpi(dist_ctx *d, ncclUniqueId *id)
{
	struct {
		int ok;
		ncclUniqueId id;
	} msg;
	memset(&msg, 0, sizeof msg);
	if (d->rank == 0)
		msg.ok = NCCL_CHECK(ncclGetUniqueId(&msg.id)) == 0;
	if (dist_broadcast(d, &msg, sizeof msg, 0) != 0)
		return -1;
	if (!msg.ok)
		return d->rank == 0 ? -1 : lm_fail("rank 0 could not make the NCCL id");
	*id = msg.id;
	return 0;
}

static int nccl_id(dist_ctx *d, ncclUniqueId *id)
{
	if (!strcmp(d->launcher, DIST_SPAWNER))
		return id_from_env(id);
	if (d->mpi)
		return id_over_mpi(d, id);
	if (d->nranks == 1)
		return NCCL_CHECK(ncclGetUniqueId(id));
	return lm_fail("rank %d of %d (%s) has no way to get the NCCL id: no MPI", d->rank,
		       d->nranks, d->launcher);
}

/* ---- set-up and the end -------------------------------------------------------- */

int dist_gpu_count(void)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess)
		return lm_fail("no usable GPU: %s", cudaGetErrorString(e));
	if (n < 1)
		return lm_fail("no GPU");
	return n;
}

static void describe(dist_ctx *d, int gpus)
{
	int v = 0;
	struct cudaDeviceProp p;
	if (ncclGetVersion(&v) != ncclSuccess)
		v = 0;
	if (cudaGetDeviceProperties(&p, d->gpu) != cudaSuccess)
		snprintf(p.name, sizeof p.name, "?");
	char launcher[32] = "";
	if (strcmp(d->launcher, "none"))
		snprintf(launcher, sizeof launcher, " (%s)", d->launcher);
	snprintf(d->what, sizeof d->what, "NCCL %d.%d.%d%s over %d rank%s%s; rank %d on GPU %d of %d, %.64s",
		 v / 10000, v / 100 % 100, v % 100, d->mpi ? " and MPI" : "", d->nranks,
		 d->nranks == 1 ? "" : "s", launcher, d->rank, d->gpu, gpus, p.name);
}

static void state_free(nccl_state *s)
{
	if (s->dev_done)
		cudaEventDestroy(s->dev_done);
	if (s->stage)
		cudaFree(s->stage);
	if (s->stream)
		cudaStreamDestroy(s->stream);
	free(s);
}

int dist_use_gpu(dist_ctx *d)
{
	if (d->nccl)
		return 0;
	int gpus = dist_gpu_count(), dev;
	if (gpus < 0)
		return -1;
	dev = d->local_rank % gpus;
	ncclUniqueId id;
	if (CUDA_CHECK(cudaSetDevice(dev)) != 0 || nccl_id(d, &id) != 0)
		return -1;
	setenv("NCCL_ALGO", DETERMINISTIC_ALGOS, 0);
	nccl_state *s = calloc(1, sizeof *s);
	if (!s)
		return lm_fail("out of memory");
	if (NCCL_CHECK(ncclCommInitRank(&s->comm, d->nranks, id, d->rank)) != 0) {
		free(s);
		return lm_fail("rank %d of %d could not join the others on GPU %d: %s", d->rank,
			       d->nranks, dev, lm_last_error());
	}
	if (CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking)) != 0 ||
	    CUDA_CHECK(cudaEventCreateWithFlags(&s->dev_done, cudaEventDisableTiming)) != 0 ||
	    CUDA_CHECK(cudaMalloc(&s->stage, STAGE_BYTES)) != 0) {
		ncclCommDestroy(s->comm);
		state_free(s);
		return -1;
	}
	d->nccl = s;
	d->gpu = dev;
	describe(d, gpus);
	return 0;
}

void dist_nccl_close(dist_ctx *d)
{
	nccl_state *s = d->nccl;
	cudaSetDevice(d->gpu);
	cudaStreamSynchronize(s->stream);
	ncclCommFinalize(s->comm);  /* flushes what is in flight, with the other ranks */
	ncclCommDestroy(s->comm);
	state_free(s);
	d->nccl = NULL;
}

/* ---- collectives ----------------------------------------------------------------- */

int dist_allreduce_mean_dev(dist_ctx *d, float *dev_buf, const size_t *offset,
			    const size_t *count, int num_spans, void *cuda_stream)
{
	nccl_state *s = d->nccl;
	if (!s)
		return d->nranks == 1 ? 0 :
		       lm_fail("rank %d of %d: no NCCL communicator to average the gradients "
			       "(dist_use_gpu makes it)", d->rank, d->nranks);
	ncclResult_t async;
	if (NCCL_CHECK(ncclCommGetAsyncError(s->comm, &async)) != 0 ||
	    NCCL_CHECK(async) != 0)
		return lm_fail("rank %d of %d: %s", d->rank, d->nranks, lm_last_error());
	cudaStream_t stream = (cudaStream_t)cuda_stream;
	if (NCCL_CHECK(ncclGroupStart()) != 0)
		return -1;
	int rc = 0;
	for (int k = 0; k < num_spans && rc == 0; k++)
		if (count[k] > 0)
			rc = NCCL_CHECK(ncclAllReduce(dev_buf + offset[k], dev_buf + offset[k],
						      count[k], ncclFloat, ncclAvg, s->comm, stream));
	if (NCCL_CHECK(ncclGroupEnd()) != 0 || rc != 0)
		return -1;
	return CUDA_CHECK(cudaEventRecord(s->dev_done, stream));
}

/* The host collectives' stream after the last device all-reduce. */
static int host_turn(dist_ctx *d)
{
	nccl_state *s = d->nccl;
	if (CUDA_CHECK(cudaSetDevice(d->gpu)) != 0 ||
	    CUDA_CHECK(cudaStreamWaitEvent(s->stream, s->dev_done, 0)) != 0)
		return -1;
	return 0;
}

static size_t type_size(dist_type t)
{
	return t == DIST_F64 ? sizeof(double) : t == DIST_F32 ? sizeof(float) : sizeof(int);
}

static ncclDataType_t nccl_type(dist_type t)
{
	return t == DIST_F64 ? ncclFloat64 : t == DIST_F32 ? ncclFloat32 : ncclInt32;
}

int dist_nccl_allreduce_host(dist_ctx *d, void *buf, size_t n, dist_type type, dist_op op)
{
	nccl_state *s = d->nccl;
	size_t elem = type_size(type), per = STAGE_BYTES / elem;
	if (host_turn(d) != 0)
		return -1;
	for (size_t i = 0; i < n; i += per) {
		size_t k = n - i < per ? n - i : per;
		char *h = (char *)buf + i * elem;
		if (CUDA_CHECK(cudaMemcpyAsync(s->stage, h, k * elem, cudaMemcpyHostToDevice,
					       s->stream)) != 0 ||
		    NCCL_CHECK(ncclAllReduce(s->stage, s->stage, k, nccl_type(type),
					     op == DIST_SUM ? ncclSum : ncclMax, s->comm,
					     s->stream)) != 0 ||
		    CUDA_CHECK(cudaMemcpyAsync(h, s->stage, k * elem, cudaMemcpyDeviceToHost,
					       s->stream)) != 0 ||
		    CUDA_CHECK(cudaStreamSynchronize(s->stream)) != 0)
			return -1;
	}
	return 0;
}

int dist_nccl_broadcast_host(dist_ctx *d, void *buf, size_t n, int root)
{
	nccl_state *s = d->nccl;
	bool is_root = d->rank == root;
	if (host_turn(d) != 0)
		return -1;
	for (size_t i = 0; i < n; i += STAGE_BYTES) {
		size_t k = n - i < STAGE_BYTES ? n - i : STAGE_BYTES;
		char *h = (char *)buf + i;
		if ((is_root && CUDA_CHECK(cudaMemcpyAsync(s->stage, h, k, cudaMemcpyHostToDevice,
							   s->stream)) != 0) ||
		    NCCL_CHECK(ncclBroadcast(s->stage, s->stage, k, ncclUint8, root, s->comm,
					     s->stream)) != 0 ||
		    (!is_root && CUDA_CHECK(cudaMemcpyAsync(h, s->stage, k, cudaMemcpyDeviceToHost,
							    s->stream)) != 0) ||
		    CUDA_CHECK(cudaStreamSynchronize(s->stream)) != 0)
			return -1;
	}
	return 0;
}
