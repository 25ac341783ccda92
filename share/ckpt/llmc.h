/*
 * llmc.h — llm.c's files: the GPT-2 checkpoint (gpt2_124M.bin) and the
 * tokenizer (gpt2_tokenizer.bin), read and written.
 *
 * The checkpoint: a header of 256 little-endian int32 — magic 20240326,
 * version (3: fp32 tensors, 5: bf16 tensors, layernorms included), max
 * context T, vocabulary V, layers L, heads NH, channels C, padded vocabulary
 * Vp >= V; the rest zero — then the tensors back to back, nn.Linear's
 * (out, in) layout, each kind for all layers before the next kind:
 *   wte (Vp, C), wpe (T, C), ln1w (L, C), ln1b (L, C), qkvw (L, 3C, C),
 *   qkvb (L, 3C), attprojw (L, C, C), attprojb (L, C), ln2w (L, C),
 *   ln2b (L, C), fcw (L, 4C, C), fcb (L, 4C), fcprojw (L, C, 4C),
 *   fcprojb (L, C), lnfw (C), lnfb (C).
 * Only the gpt2 family without ablations fits (tied head, biases, GELU MLP
 * of width 4C, LayerNorm eps 1e-5: what llm.c computes).
 *
 * The tokenizer: a header of 256 uint32 — magic 20240328, version (1, or 2
 * with the EOT id), the number of tokens N, the EOT id (version 2; 50256 for
 * version 1) — then each token as one length byte and its bytes, in id
 * order. We read it as a rank table (tok/tiktoken_ranks.h) with EOT, the
 * last token, as the special <|endoftext|>.
 */
#ifndef LMPIPE_CKPT_LLMC_H
#define LMPIPE_CKPT_LLMC_H

#include "ckpt/format.h"
#include "model/gpt.h"
#include "tok/merges.h"

#include <stdbool.h>

#define LLMC_MAGIC 20240326
#define LLMC_TOKENIZER_MAGIC 20240328
#define LLMC_HEADER_INTS 256

/* The config of the checkpoint at PATH (finished: config_finish done). */
int llmc_config(lm_config *c, const char *path);
/* The model of the checkpoint at PATH, allocated here. */
int llmc_open_model(gpt_model *m, const char *path);
/* Write m as an llm.c checkpoint (DT_F32: version 3, DT_BF16: version 5),
 * atomically; an error, and nothing written, for a model llm.c cannot
 * express. */
int llmc_save(const gpt_model *m, const char *path, ckpt_dtype dt, bool overwrite);
/* Whether llm.c's checkpoint can hold c: 0, or -1 with the reason. */
int llmc_check(const lm_config *c);

/* Read llm.c's tokenizer file into *m. */
int llmc_tokenizer_read(bpe_merges *m, const char *path);
/* Write *m as llm.c's tokenizer file (version 2); its EOT is the special
 * <|endoftext|>, which *m must have. */
int llmc_tokenizer_write(const bpe_merges *m, const char *path, bool overwrite);

#endif
