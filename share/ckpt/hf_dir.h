/*
 * hf_dir.h — transformers model directories, written so that
 * AutoModelForCausalLM, AutoTokenizer and pipeline("text-generation") open
 * them with no step between:
 *
 *   config.json              GPT2LMHeadModel or LlamaForCausalLM
 *   model.safetensors        the weights (ckpt.h)
 *   vocab.json, merges.txt   the byte-level BPE (GPT2Tokenizer's files)
 *   tokenizer_config.json    its class and special tokens
 *   special_tokens_map.json
 *   generation_config.json   bos/eos: <|endoftext|>
 *
 * A run directory of lm-train is one such directory: there model.safetensors
 * is a relative symlink to ckpt.safetensors, itself the atomically moved
 * pointer to the latest checkpoint (train/rundir.h), so it always names the
 * latest complete one. Models transformers has no class for (the
 * ablations) get no config.json; our tools still read the directory.
 */
#ifndef LMPIPE_CKPT_HF_DIR_H
#define LMPIPE_CKPT_HF_DIR_H

#include "model/gpt.h"
#include "tok/merges.h"

#include <stdbool.h>

/* The transformers config.json for c (caller frees), or NULL with an error
 * when transformers has no such model (the ablations). EOT: the id of
 * <|endoftext|> for bos/eos, -1 for none. */
char *hf_dir_config(const lm_config *c, int eot);
/* The id of <|endoftext|> in tok, -1 when absent (or tok NULL). */
int hf_dir_eot(const bpe_merges *tok);
/* A whole transformers directory DIR for m and tok (NULL: no tokenizer
 * files); an error, and nothing written, when transformers cannot express m. */
int hf_dir_export(const gpt_model *m, const bpe_merges *tok, const char *dir, bool overwrite);
/* After a checkpoint of the run in DIR: config.json, the tokenizer files
 * (tok may be NULL), generation_config.json, and model.safetensors pointing
 * at ckpt.safetensors. 0 when done; 1 when the model has no transformers
 * class (no config.json; the reason is lm_last_error()); -1 on an error. */
int hf_dir_update(const char *dir, const gpt_model *m, const bpe_merges *tok);

#endif
