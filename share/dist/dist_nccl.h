/*
 * dist_nccl.h — what dist.c asks of the NCCL side (dist_nccl.c, CUDA builds
 * only): the host collectives staged through the device, and the end.
 * Private to share/dist; tools use dist.h.
 */
#ifndef LMPIPE_DIST_NCCL_H
#define LMPIPE_DIST_NCCL_H

#include "dist/dist.h"

/* The launcher name of ranks started by lm-train --gpus. */
#define DIST_SPAWNER "gpus"

typedef enum { DIST_F32, DIST_F64, DIST_I32 } dist_type;
typedef enum { DIST_SUM, DIST_MAX } dist_op;

/* buf (n values of TYPE, host memory) reduced with OP over the ranks of
 * d->nccl, in place. */
int dist_nccl_allreduce_host(dist_ctx *d, void *buf, size_t n, dist_type type, dist_op op);
/* Root's n bytes to every rank (host memory). */
int dist_nccl_broadcast_host(dist_ctx *d, void *buf, size_t n, int root);
/* Destroy the communicator and free what dist_use_gpu made. */
void dist_nccl_close(dist_ctx *d);

#endif
