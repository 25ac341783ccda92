/*
 * rundir.h — the checkpoints of a run directory, and the pointer to the
 * latest one.
 *
 *   RUN_DIR/ckpt_00000010.safetensors   weights at step 10
 *   RUN_DIR/ckpt_00000010.state         the sidecar for an exact resume
 *   RUN_DIR/ckpt.safetensors            symlink to the latest complete pair
 *   RUN_DIR/log.jsonl                   the training log
 *   RUN_DIR/lock                        flock'ed by the run writing here
 *
 * The promise: whenever the process is killed (kill -9 included), the
 * pointer names a pair that was written completely. Each file of the pair is
 * written atomically (temp, fsync, rename) BEFORE the pointer moves, and the
 * pointer moves by renaming a new symlink over it, so it is always the old
 * pair or the new one. Pruning removes only pairs older than the pointed-to
 * one.
 *
 * One writer: a run holds an flock on RUN_DIR/lock while it writes there, so
 * a second run on the directory is refused instead of interleaving its log
 * and removing the first's temp files. The kernel drops the lock when its
 * holder ends, however it ends: a killed run leaves nothing that blocks.
 */
#ifndef LMPIPE_TRAIN_RUNDIR_H
#define LMPIPE_TRAIN_RUNDIR_H

#define RUNDIR_LATEST "ckpt.safetensors"
#define RUNDIR_LOG "log.jsonl"
#define RUNDIR_LOCK "lock"

/* What rundir_in_use finds. */
enum { RUNDIR_EMPTY = 0, RUNDIR_NO_CHECKPOINT = 1, RUNDIR_CHECKPOINTED = 2 };

/* "DIR/ckpt_%08ld.EXT" (EXT "safetensors" or "state"); caller frees. */
char *rundir_ckpt_path(const char *dir, long step, const char *ext);
/* "DIR/NAME"; caller frees. */
char *rundir_file(const char *dir, const char *name);
/* Point DIR/ckpt.safetensors at step's pair, atomically. */
int rundir_point_latest(const char *dir, long step);
/* The step the pointer names: 1 and *step when there is one, 0 when none,
 * -1 with an error for a pointer that is not ours. */
int rundir_latest(const char *dir, long *step);
/* What DIR holds of a run (a fresh run must not reuse it): RUNDIR_EMPTY,
 * RUNDIR_NO_CHECKPOINT (a log or a lone file of a pair, but no whole pair
 * nor pointer: a run that never wrote a whole checkpoint, a full disk say),
 * RUNDIR_CHECKPOINTED (a whole pair or the pointer). */
int rundir_in_use(const char *dir);
/* For a fresh run in DIR: 0 when it holds none, else -1 and what to do
 * (--resume it, or -f). */
int rundir_check_fresh(const char *dir);
/* The newest step below BEFORE whose pair is both there: 1 and *step, 0
 * when there is none, -1 on error. Temp files of a killed writer go. */
int rundir_previous(const char *dir, long before, long *step);
/* Take DIR's lock for this process: its descriptor (kept open while the
 * run writes; close-on-exec), or -1 with an error that names the holder's
 * pid when another process has it. */
int rundir_lock(const char *dir);
/* Keep the KEEP newest pairs (the latest always among them); remove older
 * ones and temp files left by a killed writer. KEEP 0 keeps everything. */
int rundir_prune(const char *dir, int keep);

#endif
