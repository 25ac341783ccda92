/*
 * hf_dir.c — transformers model directories (see hf_dir.h).
 *
 * The tokenizer files follow GPT-2's own on the hub: vocab.json maps each
 * token (in GPT-2's byte alphabet; a special as its text) to its id,
 * merges.txt is our merges file, and the specials are "added tokens", so
 * GPT2Tokenizer(Fast) splits them out of the text before BPE, as bpe-encode
 * does with -s.
 */
#include "ckpt/hf_dir.h"
#include "ckpt/ckpt.h"
#include "util/error.h"
#include "util/io.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENDOFTEXT "<|endoftext|>"
#define RUN_LATEST "ckpt.safetensors"   /* train/rundir.h's pointer */

/* ---- config.json ---------------------------------------------------------------- */

int hf_dir_eot(const bpe_merges *tok)
{
	for (uint32_t i = 0; tok && i < tok->n_specials; i++)
		if (!strcmp(tok->specials[i], ENDOFTEXT))
			return (int)(256 + tok->n_merges + i);
	return -1;
}

static json_t *token_id(int id)
{
	return id >= 0 ? json_integer(id) : json_null();
}

char *hf_dir_config(const lm_config *c, int eot)
{
	json_t *o;
	if (c->family == FAMILY_GPT2) {
		if (c->norm != NORM_PRE || c->pos != POS_LEARNED || c->mlp != MLP_GELU || !c->bias) {
			lm_fail("model '%s': transformers' GPT2 has no %s/%s/%s%s variant", c->name,
				config_norm_name(c->norm), config_positions_name(c->pos),
				config_mlp_name(c->mlp), c->bias ? "" : " bias-free");
			return NULL;
		}
		o = json_pack("{s:[s], s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:f, s:f, s:f, s:f, s:b, s:s}",
			      "architectures", "GPT2LMHeadModel", "model_type", "gpt2",
			      "vocab_size", c->vocab_size, "n_positions", c->ctx, "n_ctx", c->ctx,
			      "n_embd", c->d_model, "n_layer", c->n_layer, "n_head", c->n_head,
			      "n_inner", c->d_ff, "activation_function", "gelu_new",
			      "layer_norm_epsilon", c->norm_eps, "resid_pdrop", 0.0,
			      "embd_pdrop", 0.0, "attn_pdrop", 0.0,
			      "tie_word_embeddings", c->tied_head, "torch_dtype", "float32");
	} else {
		if (c->norm != NORM_PRE || c->pos != POS_ROPE || c->mlp != MLP_SWIGLU) {
			lm_fail("model '%s': transformers' Llama has no %s/%s/%s variant", c->name,
				config_norm_name(c->norm), config_positions_name(c->pos),
				config_mlp_name(c->mlp));
			return NULL;
		}
		o = json_pack("{s:[s], s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:s, s:b, s:b, s:b, s:s}",
			      "architectures", "LlamaForCausalLM", "model_type", "llama",
			      "vocab_size", c->vocab_size, "hidden_size", c->d_model,
			      "intermediate_size", c->d_ff, "num_hidden_layers", c->n_layer,
			      "num_attention_heads", c->n_head, "num_key_value_heads", c->n_head,
			      "max_position_embeddings", c->ctx, "rms_norm_eps", c->norm_eps,
			      "rope_theta", c->rope_theta, "hidden_act", "silu",
			      "tie_word_embeddings", c->tied_head, "attention_bias", c->bias,
			      "mlp_bias", c->bias, "torch_dtype", "float32");
	}
	if (o) {
		json_object_set_new(o, "bos_token_id", token_id(eot));
		json_object_set_new(o, "eos_token_id", token_id(eot));
	}
	char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(o);
	if (!s)
		lm_fail("out of memory");
	return s;
}

/* ---- files ------------------------------------------------------------------------ */

static char *dir_file(const char *dir, const char *name)
{
	char *p;
	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		lm_fail("out of memory");
		return NULL;
	}
	return p;
}

/* DIR/NAME := TEXT + "\n", atomically. */
static int write_text(const char *dir, const char *name, const char *text, bool overwrite)
{
	char *path = dir_file(dir, name);
	if (!path)
		return -1;
	atomic_file af;
	int rc = atomic_file_open(&af, path, overwrite);
	if (rc == 0) {
		fputs(text, af.fp);
		fputc('\n', af.fp);
		rc = atomic_file_commit(&af);
	}
	free(path);
	return rc;
}

/* DIR/NAME := the JSON o (stolen), atomically. */
static int write_json(const char *dir, const char *name, json_t *o, bool overwrite)
{
	char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	if (!s)
		return lm_fail("out of memory");
	int rc = write_text(dir, name, s, overwrite);
	free(s);
	return rc;
}

static json_t *added_token(const char *text)
{
	return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b}", "content", text, "lstrip", 0,
			 "normalized", 0, "rstrip", 0, "single_word", 0, "special", 1);
}

static int write_tokenizer(const char *dir, const bpe_merges *tok, int ctx, bool overwrite)
{
	char *vocab = dir_file(dir, "vocab.json"), *merges = dir_file(dir, "merges.txt");
	int rc = -1;
	if (!vocab || !merges)
		goto out;
	/* merges_write and merges_write_encoder_json replace their files atomically */
	if ((!overwrite && (access(vocab, F_OK) == 0 || access(merges, F_OK) == 0))) {
		lm_fail("'%s' exists (overwrite it with -f)", access(vocab, F_OK) == 0 ? vocab : merges);
		goto out;
	}
	if (merges_write_encoder_json(tok, vocab) != 0 || merges_write(tok, merges) != 0)
		goto out;
	int eot = hf_dir_eot(tok);
	json_t *cfg = json_pack("{s:s, s:i, s:b, s:b, s:b, s:s}", "tokenizer_class", "GPT2Tokenizer",
				"model_max_length", ctx, "add_prefix_space", 0, "add_bos_token", 0,
				"clean_up_tokenization_spaces", 0, "errors", "replace");
	json_t *map = json_object(), *decoder = json_object(), *extra = json_array();
	for (uint32_t i = 0; i < tok->n_specials; i++) {
		char id[16];
		snprintf(id, sizeof id, "%u", 256 + tok->n_merges + i);
		json_object_set_new(decoder, id, added_token(tok->specials[i]));
		if ((int)(256 + tok->n_merges + i) != eot)
			json_array_append_new(extra, json_string(tok->specials[i]));
	}
	if (eot >= 0) {
		static const char *const roles[] = {"bos_token", "eos_token", "unk_token"};
		for (int i = 0; i < 3; i++) {
			json_object_set_new(cfg, roles[i], json_string(ENDOFTEXT));
			json_object_set_new(map, roles[i], json_string(ENDOFTEXT));
		}
	}
	json_object_set(cfg, "additional_special_tokens", extra);
	json_object_set_new(map, "additional_special_tokens", extra);
	json_object_set_new(cfg, "added_tokens_decoder", decoder);
	rc = write_json(dir, "tokenizer_config.json", cfg, true);
	if (rc == 0)
		rc = write_json(dir, "special_tokens_map.json", map, true);
	else
		json_decref(map);
out:
	free(vocab);
	free(merges);
	return rc;
}

static int write_generation_config(const char *dir, int eot, bool overwrite)
{
	json_t *o = json_pack("{s:o, s:o}", "bos_token_id", token_id(eot), "eos_token_id",
			      token_id(eot));
	return write_json(dir, "generation_config.json", o, overwrite);
}

static int write_config(const char *dir, const lm_config *c, int eot, bool overwrite)
{
	char *json = hf_dir_config(c, eot);
	if (!json)
		return -1;
	int rc = write_text(dir, "config.json", json, overwrite);
	free(json);
	return rc;
}

/* ---- a converted model ---------------------------------------------------------- */

int hf_dir_export(const gpt_model *m, const bpe_merges *tok, const char *dir, bool overwrite)
{
	int eot = hf_dir_eot(tok);
	char *json = hf_dir_config(&m->cfg, eot);   /* first: nothing written if it fails */
	if (!json)
		return -1;
	free(json);
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return lm_fail_errno("cannot create '%s'", dir);
	char *weights = dir_file(dir, "model.safetensors");
	int rc = weights ? ckpt_save_with_tokenizer(m, weights, tok, overwrite) : -1;
	if (rc == 0)
		rc = write_config(dir, &m->cfg, eot, overwrite);
	if (rc == 0 && tok)
		rc = write_tokenizer(dir, tok, m->cfg.ctx, overwrite);
	if (rc == 0)
		rc = write_generation_config(dir, eot, overwrite);
	free(weights);
	return rc;
}

/* ---- a run directory -------------------------------------------------------------- */

/* DIR/model.safetensors -> ckpt.safetensors, made (once) by renaming a new
 * symlink over the name, so a reader never finds it missing or half made. */
static int link_latest(const char *dir)
{
	char *link = dir_file(dir, "model.safetensors"), *tmp = NULL, target[PATH_MAX];
	if (!link || asprintf(&tmp, "%s.tmp.%ld", link, (long)getpid()) < 0) {
		free(link);
		return lm_fail("out of memory");
	}
	int rc = 0;
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n >= 0)
		target[n] = 0;
	if (n < 0 || strcmp(target, RUN_LATEST) != 0) {
		unlink(tmp);
		if (symlink(RUN_LATEST, tmp) != 0)
			rc = lm_fail_errno("cannot make link '%s'", tmp);
		else if (rename(tmp, link) != 0) {
			rc = lm_fail_errno("cannot rename '%s' to '%s'", tmp, link);
			unlink(tmp);
		}
	}
	free(tmp);
	free(link);
	return rc;
}

int hf_dir_update(const char *dir, const gpt_model *m, const bpe_merges *tok)
{
	int eot = hf_dir_eot(tok);
	if (link_latest(dir) != 0 || write_generation_config(dir, eot, true) != 0)
		return -1;
	if (tok && write_tokenizer(dir, tok, m->cfg.ctx, true) != 0)
		return -1;
	char *json = hf_dir_config(&m->cfg, eot);
	if (!json) {
		char *why = strdup(lm_last_error());
		lm_fail("no config.json in '%s', transformers cannot load it: %s", dir,
			why ? why : "");
		free(why);
		return 1;
	}
	int rc = write_text(dir, "config.json", json, true);
	free(json);
	return rc;
}
