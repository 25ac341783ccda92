/*
 * gguf.h — GGUF (version 3), the file llama.cpp, ollama and the tools built
 * on ggml load: a model and its tokenizer in one file.
 *
 * The file (ggml's docs/gguf.md): "GGUF", uint32 version 3, uint64 tensor
 * count, uint64 key/value count, the key/values (a string key, a uint32
 * type, the value; strings are a uint64 length and bytes; arrays a uint32
 * element type, a uint64 count and the elements), the tensor infos (name,
 * uint32 dims, uint64 ne[dims] with ne[0] the fastest-varying dimension,
 * uint32 ggml type, uint64 offset into the data), padding to
 * general.alignment (32), then the data, each tensor aligned to 32.
 *
 * Both families, as llama.cpp's architectures "gpt2" and "llama" (with
 * their tensor names: token_embd, position_embd, blk.N.attn_norm,
 * blk.N.attn_qkv or attn_q/k/v, attn_output, ffn_norm, ffn_up, ffn_gate,
 * ffn_down, output_norm, output). A matrix is our (out, in), ne = [in, out].
 * Our RoPE rotates adjacent pairs, which is llama.cpp's rope for "llama"
 * (convert_hf_to_gguf permutes transformers' half-split q and k back to
 * it), so q and k rows go as they are. Matrices in f32, f16 or bf16;
 * vectors (norms, biases) always f32, as llama.cpp's converter does.
 *
 * The tokenizer: tokenizer.ggml.model "gpt2" (byte-level BPE), pre "gpt-2",
 * the tokens in GPT-2's byte alphabet (specials as their text, type
 * control), the merges "a b", <|endoftext|> as bos and eos, no bos added.
 * Vocabulary rows the tokenizer does not fill are "[PADn]", type unused.
 *
 * The reader takes the same back: every tensor checked against the
 * header's sizes and the file's length before one is read; a tied head is
 * an output.weight equal to token_embd (or none).
 */
#ifndef LMPIPE_CKPT_GGUF_H
#define LMPIPE_CKPT_GGUF_H

#include "ckpt/format.h"
#include "model/gpt.h"
#include "tok/merges.h"

#include <stdbool.h>

#define GGUF_VERSION 3

/* Whether llama.cpp's gpt2 or llama architecture can hold c: 0, or -1 with
 * the reason. */
int gguf_check(const lm_config *c);
/* Write m and tok (required) to PATH atomically; an error, and nothing
 * written, for a model no architecture expresses. */
int gguf_save(const gpt_model *m, const bpe_merges *tok, const char *path, ckpt_dtype dt,
	      bool overwrite);

/* Read a GGUF file of llama.cpp's gpt2 or llama architecture in f32, f16
 * or bf16 (what gguf_save writes, and llama.cpp's converters for such
 * models): the model, allocated here. Quantized tensors, other
 * architectures and grouped-query attention are errors. */
int gguf_open_model(gpt_model *m, const char *path);
/* The config of the GGUF model at PATH (finished). */
int gguf_config(lm_config *c, const char *path);
/* The tokenizer of a GGUF file as checkpoint metadata (ckpt.h's
 * ckpt_tokenizer_meta form): the merges file's text and the control tokens
 * after the merges as a JSON array; 0 and both allocated, 1 when the file
 * holds no GPT-2-style BPE tokenizer, -1 on an error. */
int gguf_tokenizer_meta(const char *path, char **merges, char **specials);

#endif
