/*
 * state.h — the training state sidecar: what a checkpoint's safetensors
 * file does not hold but an exact resume needs.
 *
 * RUN_DIR/ckpt_00000010.safetensors holds the weights (HF names, loadable
 * anywhere); RUN_DIR/ckpt_00000010.state beside it holds the step, the
 * tokens seen, the data loader's position, the trainer's RNG, the run's
 * options (JSON: schedule, batch, seed, data, ...) and the AdamW moments
 * m and v in the model's flat parameter order.
 *
 * The file (little-endian):
 *     char     magic[8] = "LMTSTATE"
 *     uint32   version = 1, reserved = 0
 *     uint64   step, tokens, rng_state, num_params, options_len
 *     uint8    loader_pos[64]
 *     char     options[options_len], zero-padded to a multiple of 8
 *     float32  m[num_params], v[num_params]
 *     uint64   FNV-1a hash of every byte before it
 * The reader checks the size against the header and the hash before
 * trusting anything, so a torn or foreign file is an error, never a
 * silent wrong resume. Writes are atomic (temp, fsync, rename).
 */
#ifndef LMPIPE_TRAIN_STATE_H
#define LMPIPE_TRAIN_STATE_H

#include "data/loader.h"

#include <stddef.h>
#include <stdint.h>

#define TRAIN_STATE_MAGIC "LMTSTATE"
#define TRAIN_STATE_VERSION 1

typedef struct {
	uint64_t step;          /* optimizer steps done */
	uint64_t tokens;        /* tokens trained on, all ranks */
	uint64_t rng_state;     /* the trainer's RNG */
	uint8_t loader_pos[LOADER_POS_BYTES];
	char *options_json;     /* the run's options, NUL-terminated */
	size_t num_params;
	float *m, *v;           /* (num_params) AdamW first and second moments */
} train_state;

/* Write S to PATH atomically, replacing it if it exists. */
int train_state_write(const char *path, const train_state *s);
/* Read PATH into S (allocates options_json, m, v). -1 with an error naming
 * the file: missing, wrong magic or version, wrong size, bad hash. */
int train_state_read(const char *path, train_state *s);
void train_state_free(train_state *s);

#endif
