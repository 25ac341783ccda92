/*
 * ckpt.h — model checkpoints: safetensors files under HF transformers'
 * tensor names, so a checkpoint loads into transformers and gives the same
 * logits, and a transformers save_pretrained directory loads here.
 *
 *   gpt2 family  -> GPT2LMHeadModel: "transformer.wte.weight",
 *                   "transformer.h.0.attn.c_attn.weight" (Conv1D: (in, out),
 *                   the transpose of ours), ..., "transformer.ln_f.weight";
 *                   a tied head is not stored (transformers ties it).
 *   llama family -> LlamaForCausalLM: "model.embed_tokens.weight",
 *                   "model.layers.0.self_attn.q_proj.weight", ...,
 *                   "model.norm.weight", "lm_head.weight". Our RoPE rotates
 *                   adjacent pairs, HF's the two halves of a head: q and k
 *                   rows are permuted within each head on save (and back on
 *                   load), which leaves q.k and so the logits unchanged.
 * Tensors only the ablations have get names in the same style
 * ("mlp.c_gate", "model.embed_positions", ...). Only the V real vocabulary
 * rows are stored; the padding rows are zero.
 *
 * __metadata__: "format": "pt" (transformers requires it), "producer":
 * "lmpipe", "config": our config JSON (ckpt_load_config reads it back), plus the
 * caller's pairs (step, tokenizer, ...).
 */
#ifndef LMPIPE_CKPT_H
#define LMPIPE_CKPT_H

#include "model/gpt.h"
#include "tok/merges.h"

#include <stdbool.h>

/* Fill c from what MODEL names: a preset (model/config.h), a JSON config
 * (ours or transformers'), or any checkpoint ckpt_open_model reads. */
int ckpt_load_config(lm_config *c, const char *model);

/* Write the weights of m to PATH atomically; extra metadata as key/value
 * pairs meta[2i], meta[2i+1] (nmeta pairs). */
int ckpt_save(const gpt_model *m, const char *path, const char *const *meta, int nmeta,
	      bool overwrite);
/* Read the weights into m (allocated with the checkpoint's config) from a
 * .safetensors file or a directory holding model.safetensors. Every tensor
 * must be there with the right shape; names may lack transformers' base
 * prefix ("transformer.", "model."), as some hub files do. */
int ckpt_load(gpt_model *m, const char *path);
/* A model from any checkpoint we read, told by its content: ours or a
 * transformers directory (ckpt_load_config + config_finish + gpt_alloc +
 * ckpt_load), llm.c's .bin (ckpt/llmc.h), or GGUF (ckpt/gguf.h). */
int ckpt_open_model(gpt_model *m, const char *path);

/* The tokenizer as checkpoint metadata (eval/tokenizer.h reads it back):
 * "tokenizer_merges" the merges file's text, "tokenizer_specials" a JSON
 * array; both allocated (caller frees). */
int ckpt_tokenizer_meta(const bpe_merges *tok, char **merges, char **specials);
/* ckpt_save with tok (may be NULL) in the metadata. */
int ckpt_save_with_tokenizer(const gpt_model *m, const char *path, const bpe_merges *tok,
			     bool overwrite);

#endif
