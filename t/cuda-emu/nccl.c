/*
 * nccl.c — NCCL for one rank in the host emulation (see nccl.h): a test
 * double that lets dist_nccl.c, lm-train --gpus 1 and test-tool dist run
 * their NCCL path without a GPU. Every collective of one rank is a copy
 * from its send buffer to its receive buffer (nothing when they are the
 * same), after checking that both are device memory of the right size, that
 * the communicator is live and that groups nest.
 */
#include "nccl.h"
#include "emu.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ncclComm { int finalized; };

static char last_error[256];
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
	memset(id, 0, sizeof *id);
	snprintf(id->internal, sizeof id->internal, "cuda-emu %ld", (long)getpid());
	return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
	*comm = NULL;
	if (nranks != 1)
		return fail(ncclInvalidUsage, "the CUDA emulation runs one rank (asked for %d)",
			    nranks);
	if (rank != 0)
		return fail(ncclInvalidArgument, "rank %d of 1", rank);
	*comm = calloc(1, sizeof **comm);
	return *comm ? ncclSuccess : fail(ncclSystemError, "out of memory");
}

ncclResult_t ncclCommFinalize(ncclComm_t comm)
{
	if (!comm)
		return fail(ncclInvalidArgument, "ncclCommFinalize: no communicator");
	comm->finalized = 1;
	return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
	free(comm);
	return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) { return ncclCommDestroy(comm); }

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *async)
{
	if (!comm)
		return fail(ncclInvalidArgument, "ncclCommGetAsyncError: no communicator");
	*async = ncclSuccess;
	return ncclSuccess;
}

ncclResult_t ncclCommCount(ncclComm_t comm, int *count)
{
	*count = 1;
	return comm ? ncclSuccess : fail(ncclInvalidArgument, "ncclCommCount: no communicator");
}

ncclResult_t ncclCommUserRank(ncclComm_t comm, int *rank)
{
	*rank = 0;
	return comm ? ncclSuccess : fail(ncclInvalidArgument, "ncclCommUserRank: no communicator");
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

/* ---- the collectives of one rank: copies ----------------------------------------- */

static size_t type_size(ncclDataType_t t)
{
	static const size_t sizes[] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2};
	return (unsigned)t < sizeof sizes / sizeof sizes[0] ? sizes[t] : 0;
}

/* recv = send (count elements of type t), on the device. */
static ncclResult_t copy(const char *who, const void *send, void *recv, size_t count,
			 ncclDataType_t t, ncclComm_t comm)
{
	size_t bytes = count * type_size(t);
	if (!comm || comm->finalized)
		return fail(ncclInvalidArgument, "%s: no live communicator", who);
	if (!type_size(t))
		return fail(ncclInvalidArgument, "%s: no data type %d", who, (int)t);
	if (!emu_on_device(send, bytes) || !emu_on_device(recv, bytes))
		return fail(ncclInvalidArgument, "%s: %s buffer of %zu bytes is not device memory",
			    who, emu_on_device(send, bytes) ? "the receive" : "the send", bytes);
	if (send != recv)
		memmove(recv, send, bytes);
	return ncclSuccess;
}

static int op_ok(ncclRedOp_t op) { return op >= ncclSum && op <= ncclAvg; }

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count,
			   ncclDataType_t type, ncclRedOp_t op, ncclComm_t comm, cudaStream_t s)
{
	if (!op_ok(op))
		return fail(ncclInvalidArgument, "ncclAllReduce: no operation %d", (int)op);
	return copy("ncclAllReduce", sendbuff, recvbuff, count, type, comm);
}

ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count,
			   ncclDataType_t type, int root, ncclComm_t comm, cudaStream_t s)
{
	if (root != 0)
		return fail(ncclInvalidArgument, "ncclBroadcast: root %d of 1 rank", root);
	return copy("ncclBroadcast", sendbuff, recvbuff, count, type, comm);
}

ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount,
			       ncclDataType_t type, ncclRedOp_t op, ncclComm_t comm,
			       cudaStream_t s)
{
	if (!op_ok(op))
		return fail(ncclInvalidArgument, "ncclReduceScatter: no operation %d", (int)op);
	return copy("ncclReduceScatter", sendbuff, recvbuff, recvcount, type, comm);
}

ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount,
			   ncclDataType_t type, ncclComm_t comm, cudaStream_t s)
{
	return copy("ncclAllGather", sendbuff, recvbuff, sendcount, type, comm);
}
