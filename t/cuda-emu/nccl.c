/*
 * nccl.c — NCCL in the host emulation (see nccl.h): a test double whose
 * communicator spans processes, so that lm-train --gpus N, mpirun's ranks
 * and test-tool dist run their NCCL path, all of it, without a GPU.
 *
 * The id names a file in /dev/shm (TMPDIR without it); each rank maps it.
 * ncclCommInitRank waits for every rank to arrive (LMPIPE_EMU_NCCL_TIMEOUT
 * seconds, 120 by default), refuses two ranks on one GPU (one entry of
 * CUDA_VISIBLE_DEVICES) as NCCL does, and rank 0 then unlinks the file.
 *
 * A collective is deferred work on its stream (runtime.c), run when the
 * stream is forced, in the order the communicator's calls were made. In
 * pieces of at most SLOT_BYTES: each rank copies its part into its slot
 * (two sets of slots, by the piece's parity, so that a fast rank never
 * overwrites what a slow one still reads), then, once every rank has
 * posted, reduces the slots in rank order (ncclAvg: each term times 1/R,
 * then the sum), so every rank holds the same bits and two runs give the
 * same ones. A rank that has exited (its pid is gone or a zombie), or one
 * that has not posted within the timeout, fails the collective with the
 * reason, never a hang: the error sticks to the stream, as a GPU's would.
 *
 * Unlike a GPU, a rank's collectives progress only while that process is
 * in the CUDA layer: a rank blocked in MPI while a peer waits on the device
 * for a collective the first has queued would wait out the timeout, where
 * real GPUs finish it alone. lmpipe's loop never does that (its MPI calls
 * come before it reads what the all-reduces made, on every rank alike).
 */
#include "nccl.h"
#include "emu.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_RANKS 64
#define SLOT_BYTES ((size_t)4 << 20)
#define MAGIC 0x4e43434c454d5531ull  /* "NCCLEMU1" */

/* The shared file: this header, then 2 x nranks slots. */
typedef struct {
	uint64_t magic;
	int nranks;                   /* every rank's, checked at the start */
	int joined[MAX_RANKS];        /* 1 once rank r has arrived */
	int pid[MAX_RANKS];
	int nranks_of[MAX_RANKS];
	char gpu[MAX_RANKS][32];      /* its CUDA_VISIBLE_DEVICES entry */
	long posted[MAX_RANKS];       /* the last piece rank r has posted */
	int aborted;                  /* a rank called ncclCommAbort */
} shared;

#define HEADER_BYTES (((sizeof(shared) + 4095) / 4096) * 4096)

struct ncclComm {
	shared *sh;
	size_t map_bytes;
	int rank, nranks, dev;
	long calls, runs;  /* collectives queued, run */
	long piece;        /* pieces run */
	int finalized;
	ncclResult_t async;
};

static char last_error[512];
static int group_depth;

__attribute__((format(printf, 2, 3)))
static ncclResult_t fail(ncclResult_t r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	return r;
}

const char *ncclGetErrorString(ncclResult_t r)
{
	switch (r) {
	case ncclSuccess: return "no error";
	case ncclUnhandledCudaError: return "unhandled cuda error";
	case ncclSystemError: return "unhandled system error";
	case ncclInternalError: return "internal error";
	case ncclInvalidArgument: return "invalid argument";
	case ncclInvalidUsage: return "invalid usage";
	case ncclRemoteError: return "remote process exited or there was a network error";
	case ncclInProgress: return "NCCL operation in progress";
	}
	return "unknown result code";
}

const char *ncclGetLastError(ncclComm_t comm) { return last_error; }

ncclResult_t ncclGetVersion(int *version)
{
	*version = 0;  /* "NCCL 0.0.0" in the logs: not the real one */
	return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
	static unsigned count;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	memset(id, 0, sizeof *id);
	snprintf(id->internal, sizeof id->internal, "cuda-emu-%ld-%u-%lx", (long)getpid(), count++,
		 (unsigned long)ts.tv_nsec);
	return ncclSuccess;
}

/* ---- waiting for the other ranks ------------------------------------------------- */

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double timeout_s(void)
{
	const char *s = getenv("LMPIPE_EMU_NCCL_TIMEOUT");
	double t = s ? atof(s) : 0.0;
	return t > 0.0 ? t : 120.0;
}

/* Process pid has exited: gone, or a zombie not yet reaped. */
static int gone(int pid)
{
	if (pid <= 0)
		return 0;
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return 1;
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static long load(const long *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static int load_int(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

/* The first rank that has not posted piece k (-1: none). */
static int missing(const shared *sh, int nranks, long k)
{
	for (int r = 0; r < nranks; r++)
		if (load(&sh->posted[r]) < k)
			return r;
	return -1;
}

/* Wait until every rank has posted piece k: 0, or -1 after lm_fail. */
static int wait_posted(ncclComm_t c, long k, const char *who)
{
	double start = seconds(), limit = timeout_s(), checked = start;
	long ns = 1000;
	int r;
	while ((r = missing(c->sh, c->nranks, k)) >= 0) {
		double t = seconds();
		if (load_int(&c->sh->aborted))
			return lm_fail("%s (cuda-emu NCCL): another rank aborted the communicator", who);
		if (t - checked > 0.05) {
			checked = t;
			if (gone(c->sh->pid[r]))
				return lm_fail("%s (cuda-emu NCCL): rank %d (pid %d) has exited", who, r,
					       c->sh->pid[r]);
		}
		if (t - start > limit)
			return lm_fail("%s (cuda-emu NCCL): rank %d did not take part within %g s",
				       who, r, limit);
		struct timespec ts = {0, ns};
		nanosleep(&ts, NULL);
		ns = ns < 1000000 ? 2 * ns : ns;
	}
	return 0;
}

/* ---- the communicator -------------------------------------------------------------- */

static int shm_path(const ncclUniqueId *id, char *path, size_t n)
{
	if (strncmp(id->internal, "cuda-emu-", 9) || !memchr(id->internal, '\0', sizeof id->internal))
		return -1;
	struct stat st;
	const char *dir = stat("/dev/shm", &st) == 0 ? "/dev/shm" :
			  getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(path, n, "%s/lmpipe-%s", dir, id->internal);
	return 0;
}

static void comm_free(ncclComm_t c)
{
	if (c->sh)
		munmap(c->sh, c->map_bytes);
	free(c);
}

/* Wait for every rank to arrive; check that they agree. */
static ncclResult_t meet(ncclComm_t c)
{
	shared *sh = c->sh;
	double start = seconds(), limit = timeout_s();
	for (int r = 0; r < c->nranks; r++)
		while (load_int(&sh->joined[r]) != 1) {
			if (seconds() - start > limit)
				return fail(ncclSystemError, "rank %d of %d never joined within %g s "
					    "(cuda-emu NCCL)", r, c->nranks, limit);
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	for (int r = 0; r < c->nranks; r++) {
		if (sh->nranks_of[r] != c->nranks)
			return fail(ncclInvalidUsage, "rank %d says %d ranks, rank %d says %d",
				    r, sh->nranks_of[r], c->rank, c->nranks);
		if (r != c->rank && !strcmp(sh->gpu[r], sh->gpu[c->rank]))
			return fail(ncclInvalidUsage, "Duplicate GPU detected: rank %d and rank %d "
				    "both on GPU %s (cuda-emu NCCL)", c->rank, r, sh->gpu[r]);
	}
	return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
	char path[256];
	*comm = NULL;
	if (nranks < 1 || nranks > MAX_RANKS)
		return fail(ncclInvalidArgument, "%d ranks: the CUDA emulation runs 1 to %d",
			    nranks, MAX_RANKS);
	if (rank < 0 || rank >= nranks)
		return fail(ncclInvalidArgument, "rank %d of %d", rank, nranks);
	if (shm_path(&id, path, sizeof path) != 0)
		return fail(ncclInvalidArgument, "not an id ncclGetUniqueId made (cuda-emu NCCL)");
	ncclComm_t c = calloc(1, sizeof *c);
	if (!c)
		return fail(ncclSystemError, "out of memory");
	c->rank = rank;
	c->nranks = nranks;
	c->dev = emu_device();
	c->map_bytes = HEADER_BYTES + 2 * (size_t)nranks * SLOT_BYTES;
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)c->map_bytes) != 0) {
		ncclResult_t r = fail(ncclSystemError, "cannot make '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(c);
		return r;
	}
	c->sh = mmap(NULL, c->map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c->sh == MAP_FAILED) {
		c->sh = NULL;
		comm_free(c);
		return fail(ncclSystemError, "cannot map '%s': %s", path, strerror(errno));
	}
	shared *sh = c->sh;
	if (__atomic_exchange_n(&sh->joined[rank], -1, __ATOMIC_ACQ_REL)) {
		comm_free(c);
		return fail(ncclInvalidUsage, "rank %d joined twice (cuda-emu NCCL)", rank);
	}
	sh->pid[rank] = (int)getpid();
	sh->nranks_of[rank] = nranks;
	snprintf(sh->gpu[rank], sizeof sh->gpu[rank], "%s", emu_device_name(c->dev));
	__atomic_store_n(&sh->joined[rank], 1, __ATOMIC_RELEASE);
	ncclResult_t r = meet(c);
	if (rank == 0 || r != ncclSuccess)
		unlink(path);
	if (r != ncclSuccess) {
		comm_free(c);
		return r;
	}
	*comm = c;
	return ncclSuccess;
}

/* Deferred work on a communicator's streams must end before it does. */
ncclResult_t ncclCommFinalize(ncclComm_t comm)
{
	if (!comm)
		return fail(ncclInvalidArgument, "ncclCommFinalize: no communicator");
	cudaError_t e = emu_drain_all();
	comm->finalized = 1;
	return e == cudaSuccess ? ncclSuccess :
	       fail(ncclUnhandledCudaError, "%s", cudaGetErrorString(e));
}

ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
	if (comm)
		comm_free(comm);
	return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm)
{
	if (comm && comm->sh)
		__atomic_store_n(&comm->sh->aborted, 1, __ATOMIC_RELEASE);
	return ncclCommDestroy(comm);
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *async)
{
	if (!comm)
		return fail(ncclInvalidArgument, "ncclCommGetAsyncError: no communicator");
	*async = comm->async;
	return ncclSuccess;
}

ncclResult_t ncclCommCount(ncclComm_t comm, int *count)
{
	if (!comm)
		return fail(ncclInvalidArgument, "ncclCommCount: no communicator");
	*count = comm->nranks;
	return ncclSuccess;
}

ncclResult_t ncclCommUserRank(ncclComm_t comm, int *rank)
{
	if (!comm)
		return fail(ncclInvalidArgument, "ncclCommUserRank: no communicator");
	*rank = comm->rank;
	return ncclSuccess;
}

ncclResult_t ncclGroupStart(void)
{
	group_depth++;
	return ncclSuccess;
}

ncclResult_t ncclGroupEnd(void)
{
	if (group_depth == 0)
		return fail(ncclInvalidUsage, "ncclGroupEnd without ncclGroupStart");
	group_depth--;
	return ncclSuccess;
}

/* ---- the collectives --------------------------------------------------------------------- */

static size_t type_size(ncclDataType_t t)
{
	static const size_t sizes[] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2};
	return (unsigned)t < sizeof sizes / sizeof sizes[0] ? sizes[t] : 0;
}

enum { ALLREDUCE, BROADCAST };

typedef struct {
	const char *who;
	int kind;
	ncclComm_t comm;
	long call;          /* its place among the communicator's collectives */
	const char *send;
	char *recv;
	size_t count, off;  /* elements; those done */
	ncclDataType_t type;
	ncclRedOp_t op;
	int root;
	long piece;         /* the piece posted and not yet reduced (0: none) */
} coll_args;

static char *slot(ncclComm_t c, long piece, int r)
{
	return (char *)c->sh + HEADER_BYTES + ((size_t)(piece & 1) * c->nranks + r) * SLOT_BYTES;
}

static float bf16_get(const void *p)
{
	uint32_t u = (uint32_t)*(const uint16_t *)p << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static void bf16_put(void *p, float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	u += 0x7fff + ((u >> 16) & 1);  /* to nearest, ties to even (no NaN here) */
	*(uint16_t *)p = (uint16_t)(u >> 16);
}

#define APPLY(T, acc, x) \
	(op == ncclSum || op == ncclAvg ? (T)((acc) + (x)) : op == ncclProd ? (T)((acc) * (x)) : \
	 op == ncclMax ? ((x) > (acc) ? (x) : (acc)) : ((x) < (acc) ? (x) : (acc)))

/* Element i of the R slots reduced into out, in rank order. */
#define REDUCE(T) do { \
	for (size_t i = 0; i < n; i++) { \
		T acc = 0; \
		for (int r = 0; r < R; r++) { \
			T x = ((const T *)in[r])[i]; \
			if (avg_first) x = (T)(x * inv); \
			acc = r == 0 ? x : APPLY(T, acc, x); \
		} \
		if (op == ncclAvg && !avg_first) acc = (T)(acc / R); \
		((T *)out)[i] = acc; \
	} } while (0)

static void reduce(void *out, char **in, int R, size_t n, ncclDataType_t t, ncclRedOp_t op)
{
	int avg_first = op == ncclAvg && (t == ncclFloat32 || t == ncclFloat64 || t == ncclBfloat16);
	double inv = 1.0 / R;
	switch (t) {
	case ncclInt8: REDUCE(int8_t); break;
	case ncclUint8: REDUCE(uint8_t); break;
	case ncclInt32: REDUCE(int32_t); break;
	case ncclUint32: REDUCE(uint32_t); break;
	case ncclInt64: REDUCE(int64_t); break;
	case ncclUint64: REDUCE(uint64_t); break;
	case ncclFloat64: REDUCE(double); break;
	case ncclFloat32: {
		float finv = (float)inv;
		for (size_t i = 0; i < n; i++) {
			float acc = 0.0f;
			for (int r = 0; r < R; r++) {
				float x = ((const float *)in[r])[i];
				if (avg_first)
					x *= finv;
				acc = r == 0 ? x : APPLY(float, acc, x);
			}
			((float *)out)[i] = acc;
		}
		break;
	}
	case ncclBfloat16: {
		float finv = (float)inv;
		for (size_t i = 0; i < n; i++) {
			float acc = 0.0f;
			for (int r = 0; r < R; r++) {
				float x = bf16_get(in[r] + 2 * i);
				if (avg_first)
					x *= finv;
				acc = r == 0 ? x : APPLY(float, acc, x);
				uint16_t b;
				bf16_put(&b, acc);  /* each partial sum in bf16 */
				acc = bf16_get(&b);
			}
			bf16_put((char *)out + 2 * i, acc);
		}
		break;
	}
	default: break;  /* refused when queued */
	}
}

/* Post this rank's part of the next piece. */
static void post(coll_args *a, size_t n, size_t elem)
{
	ncclComm_t c = a->comm;
	a->piece = ++c->piece;
	if (a->kind == ALLREDUCE || c->rank == a->root)
		memcpy(slot(c, a->piece, c->rank), a->send + a->off * elem, n * elem);
	__atomic_store_n(&c->sh->posted[c->rank], a->piece, __ATOMIC_RELEASE);
}

static int coll_step(void *p, int must)
{
	coll_args *a = p;
	ncclComm_t c = a->comm;
	size_t elem = type_size(a->type), per = SLOT_BYTES / elem;
	if (c->runs != a->call)  /* an earlier collective of this communicator first */
		return EMU_WAIT;
	if (!emu_on_device(a->send, a->count * elem) || !emu_on_device(a->recv, a->count * elem))
		return c->async = ncclInvalidArgument,
		       lm_fail("%s (cuda-emu NCCL): a buffer is not this device's memory", a->who),
		       EMU_FAIL;
	while (a->off < a->count) {
		size_t n = a->count - a->off < per ? a->count - a->off : per;
		if (!a->piece)
			post(a, n, elem);
		if (missing(c->sh, c->nranks, a->piece) >= 0) {
			if (!must)
				return EMU_WAIT;
			if (wait_posted(c, a->piece, a->who) != 0)
				return c->async = ncclRemoteError, EMU_FAIL;
		}
		char *in[MAX_RANKS];
		for (int r = 0; r < c->nranks; r++)
			in[r] = slot(c, a->piece, r);
		if (a->kind == BROADCAST)
			memcpy(a->recv + a->off * elem, in[a->root], n * elem);
		else
			reduce(a->recv + a->off * elem, in, c->nranks, n, a->type, a->op);
		a->off += n;
		a->piece = 0;
	}
	c->runs++;
	return EMU_DONE;
}

static ncclResult_t launch(coll_args *a, cudaStream_t s)
{
	ncclComm_t c = a->comm;
	size_t bytes = a->count * type_size(a->type);
	if (!c || c->finalized)
		return fail(ncclInvalidArgument, "%s: no live communicator", a->who);
	if (!type_size(a->type) || a->type == ncclFloat16)
		return fail(ncclInvalidArgument, "%s: data type %d (the emulation has no fp16)",
			    a->who, (int)a->type);
	if (a->op < ncclSum || a->op > ncclAvg)
		return fail(ncclInvalidArgument, "%s: no operation %d", a->who, (int)a->op);
	if (a->root < 0 || a->root >= c->nranks)
		return fail(ncclInvalidArgument, "%s: root %d of %d ranks", a->who, a->root,
			    c->nranks);
	if (emu_device() != c->dev)
		return fail(ncclInvalidUsage, "%s: the communicator is on device %d, the caller on %d",
			    a->who, c->dev, emu_device());
	if (!emu_on_device(a->send, bytes) || !emu_on_device(a->recv, bytes))
		return fail(ncclInvalidArgument, "%s: %s buffer of %zu bytes is not device memory",
			    a->who, emu_on_device(a->send, bytes) ? "the receive" : "the send", bytes);
	if (c->async != ncclSuccess)
		return fail(c->async, "%s: an earlier collective failed", a->who);
	a->call = c->calls++;
	if (emu_launch(s, a->who, coll_step, a, sizeof *a) != 0)
		return fail(ncclUnhandledCudaError, "%s", lm_last_error());
	return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count,
			   ncclDataType_t type, ncclRedOp_t op, ncclComm_t comm, cudaStream_t s)
{
	coll_args a = {"ncclAllReduce", ALLREDUCE, comm, 0, sendbuff, recvbuff, count, 0, type, op,
		       0, 0};
	return launch(&a, s);
}

ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count,
			   ncclDataType_t type, int root, ncclComm_t comm, cudaStream_t s)
{
	coll_args a = {"ncclBroadcast", BROADCAST, comm, 0, sendbuff, recvbuff, count, 0, type,
		       ncclSum, root, 0};
	return launch(&a, s);
}

/* Not called by lmpipe: refused rather than emulated wrong. */
ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount,
			       ncclDataType_t type, ncclRedOp_t op, ncclComm_t comm,
			       cudaStream_t s)
{
	return fail(ncclInvalidUsage, "ncclReduceScatter: not in the CUDA emulation");
}

ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount,
			   ncclDataType_t type, ncclComm_t comm, cudaStream_t s)
{
	return fail(ncclInvalidUsage, "ncclAllGather: not in the CUDA emulation");
}
