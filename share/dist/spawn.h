/*
 * spawn.h — a launcher for the ranks of one machine (lm-train --gpus N):
 * start N copies of this program as ranks 0..N-1, the way mpirun or srun
 * would, and wait for them.
 *
 * Each copy is this program again (/proc/self/exe, else argv[0] on the
 * PATH) with the same arguments and the "gpus" launcher's environment set
 * (DIST_ENV_RANK, _WORLD_SIZE, _LOCAL_RANK and the NCCL id; see dist.h),
 * so dist_init finds its rank there. A signal to the launcher (Ctrl-C, a
 * scheduler's SIGTERM; a hang-up as SIGTERM) goes to every rank, so they
 * checkpoint and stop as one. The first rank to fail stops the others:
 * SIGTERM, then SIGKILL after grace_s seconds (a rank waiting in a
 * collective for the failed one never stops by itself). The ranks die with
 * the launcher (PR_SET_PDEATHSIG on Linux).
 *
 *   int code = dist_spawn(n, nccl_id_hex, argv, 10, on_rank_failed);
 *   exit(code);
 */
#ifndef LMPIPE_DIST_SPAWN_H
#define LMPIPE_DIST_SPAWN_H

/* Called once, at the first failure, before the others are stopped (the
 * caller says so; library code prints nothing). code: the rank's exit
 * status, or 128 + the signal that ended it. */
typedef void (*dist_spawn_failed)(int rank, int nranks, int code);

/* Start the N ranks, wait for every one, and return the status the
 * launcher should exit with: the first failing rank's, else 0. -1 with an
 * error (lm_fail) when not even the first rank could start. */
int dist_spawn(int n, const char *nccl_id, char **argv, int grace_s, dist_spawn_failed on_failed);

#endif
