/*
 * format.h — which file format a path holds, told by its content (never by
 * its name), and which one a path to be written asks for (by its name).
 *
 *   safetensors  8-byte little-endian header length, then '{'
 *   hf dir       a directory (config.json and/or model.safetensors)
 *   llm.c model  256 int32 header, magic 20240326 (llmc.h)
 *   llm.c tok.   256 uint32 header, magic 20240328 (llmc.h)
 *   GGUF         "GGUF" (gguf.h)
 */
#ifndef LMPIPE_CKPT_FORMAT_H
#define LMPIPE_CKPT_FORMAT_H

#include "model/gpt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
	FMT_UNKNOWN,
	FMT_SAFETENSORS,
	FMT_HF_DIR,
	FMT_LLMC,
	FMT_LLMC_TOKENIZER,
	FMT_GGUF,
} ckpt_format;

/* The element type of the tensors a writer stores. */
typedef enum { DT_F32, DT_F16, DT_BF16 } ckpt_dtype;

/* "f32", "f16", "bf16" (also "float32", "float16", "bfloat16"); -1 if not. */
int ckpt_parse_dtype(const char *s, ckpt_dtype *dt);
const char *ckpt_dtype_name(ckpt_dtype dt);
static inline size_t ckpt_dtype_size(ckpt_dtype dt) { return dt == DT_F32 ? 4 : 2; }
/* Write n floats as dt, little-endian; -1 on a write error (the caller
 * reports it with the file's name). Read n of them back into floats. */
int ckpt_write_floats(FILE *fp, const float *x, size_t n, ckpt_dtype dt);
int ckpt_read_floats(FILE *fp, float *x, size_t n, ckpt_dtype dt);

/* The format of PATH by content; FMT_UNKNOWN for anything else (a JSON
 * config, a merges file). -1 with an error when PATH cannot be read. */
int ckpt_sniff(const char *path, ckpt_format *fmt);
/* What writing PATH means: ".safetensors", ".gguf", "tokenizer.bin"
 * (llm.c's tokenizer), ".bin" (llm.c's model), anything else a transformers
 * directory. */
ckpt_format ckpt_format_for_output(const char *path);
const char *ckpt_format_name(ckpt_format fmt);
/* True when PATH holds weights we read (a checkpoint in any format, or a
 * directory with model.safetensors), not a preset or a config. */
bool ckpt_has_weights(const char *path);

#endif
