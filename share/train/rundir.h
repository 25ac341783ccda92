/*
 * rundir.h — the checkpoints of a run directory, and the pointer to the
 * latest one.
 *
 *   RUN_DIR/ckpt_00000010.safetensors   weights at step 10
 *   RUN_DIR/ckpt_00000010.state         the sidecar for an exact resume
 *   RUN_DIR/ckpt.safetensors            symlink to the latest complete pair
 *   RUN_DIR/log.jsonl                   the training log
 *
 * The promise: whenever the process is killed (kill -9 included), the
 * pointer names a pair that was written completely. Each file of the pair is
 * written atomically (temp, fsync, rename) BEFORE the pointer moves, and the
 * pointer moves by renaming a new symlink over it, so it is always the old
 * pair or the new one. Pruning removes only pairs older than the pointed-to
 * one.
 */
#ifndef LMPIPE_TRAIN_RUNDIR_H
#define LMPIPE_TRAIN_RUNDIR_H

#define RUNDIR_LATEST "ckpt.safetensors"
#define RUNDIR_LOG "log.jsonl"

/* Make DIR (and its parents) if missing. */
int rundir_make(const char *dir);
/* "DIR/ckpt_%08ld.EXT" (EXT "safetensors" or "state"); caller frees. */
char *rundir_ckpt_path(const char *dir, long step, const char *ext);
/* "DIR/NAME"; caller frees. */
char *rundir_file(const char *dir, const char *name);
/* Point DIR/ckpt.safetensors at step's pair, atomically. */
int rundir_point_latest(const char *dir, long step);
/* The step the pointer names: 1 and *step when there is one, 0 when none,
 * -1 with an error for a pointer that is not ours. */
int rundir_latest(const char *dir, long *step);
/* True if DIR holds any checkpoint or log (a fresh run must not reuse it). */
int rundir_in_use(const char *dir);
/* Keep the KEEP newest pairs (the latest always among them); remove older
 * ones and temp files left by a killed writer. KEEP 0 keeps everything. */
int rundir_prune(const char *dir, int keep);

#endif
