/*
 * config.h — the blueprint of a model, shared by every lm-* tool.
 *
 * Two families (lm-stat(1)'s MODELS):
 *   gpt2  — LayerNorm, GELU-tanh MLP of width 4C, learned positions,
 *           biases, LM head tied to the token embedding.
 *   llama — RMSNorm (eps 1e-5), SwiGLU MLP of width ~8/3 C rounded to 64,
 *           RoPE (theta 10000), no biases, untied LM head (CS336's model).
 * The ablation switches change one part of a family: where the norm sits
 * (pre, post, none), the positions (learned, rope, none), the MLP (gelu,
 * swiglu, silu).
 *
 * A config comes from a preset name (gpt2, gpt2-medium, gpt2-large, gpt2-xl,
 * dN, cs336-ts), from a JSON file (ours or a transformers config.json), or
 * from a checkpoint's metadata, then flag overrides, then config_finish().
 */
#ifndef LMPIPE_CONFIG_H
#define LMPIPE_CONFIG_H

#include "util/num.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum { FAMILY_GPT2, FAMILY_LLAMA } lm_family;
typedef enum { NORM_PRE, NORM_POST, NORM_NONE } lm_norm_place;
typedef enum { NORM_LAYERNORM, NORM_RMSNORM } lm_norm_kind;
typedef enum { POS_LEARNED, POS_ROPE, POS_NONE } lm_positions;
typedef enum { MLP_GELU, MLP_SWIGLU, MLP_SILU } lm_mlp;

/* The bounds config_finish checks: each width (3C, d_ff, the padded
 * vocabulary, ...) fits an int with room, and the parameter count stays an
 * exact integer in a double (2^53), so every product of sizes in size_t or
 * double is exact. */
#define CONFIG_MAX_DIM (1 << 30)
#define CONFIG_MAX_PARAMS NUM_EXACT_MAX

/* The vocabulary is padded internally to a multiple of this, for the GEMMs. */
#define VOCAB_PAD_MULTIPLE 128

typedef struct {
	char name[64];         /* preset or file it came from */
	lm_family family;
	int n_layer;           /* L */
	int d_model;           /* C */
	int n_head;            /* NH; head size HS = C / NH */
	int d_ff;              /* MLP hidden width; 0 = the family's default */
	int vocab_size;        /* V, the tokenizer's */
	int padded_vocab;      /* Vp >= V, a multiple of VOCAB_PAD_MULTIPLE */
	int ctx;               /* T, maximum context */
	lm_norm_place norm;
	lm_norm_kind norm_kind;
	lm_positions pos;
	lm_mlp mlp;
	bool bias;             /* biases on linear layers (and norm shifts) */
	bool tied_head;        /* LM head shares the token embedding */
	double norm_eps;
	double rope_theta;
} lm_config;

/* The family's defaults with zero sizes; config_preset fills sizes. */
void config_family_defaults(lm_config *c, lm_family family);

/* Fill c from a preset name; -1 with an error for an unknown name. */
int config_preset(lm_config *c, const char *name);
/* Parse JSON text (our keys or a transformers GPT2/Llama config.json). */
int config_from_json(lm_config *c, const char *json, const char *origin);
/* Serialize to JSON (our keys); caller frees. */
char *config_to_json(const lm_config *c);

/* Derive defaults (d_ff, padded vocab) and validate; -1 with an error. */
int config_finish(lm_config *c);

/* Parse switch values: "gpt2"/"llama", "pre|post|none", ... -1 if unknown. */
int config_parse_family(const char *s, lm_family *out);
int config_parse_norm(const char *s, lm_norm_place *out);
int config_parse_positions(const char *s, lm_positions *out);
int config_parse_mlp(const char *s, lm_mlp *out);

const char *config_family_name(lm_family f);
const char *config_norm_name(lm_norm_place n);
const char *config_norm_kind_name(lm_norm_kind k);
const char *config_positions_name(lm_positions p);
const char *config_mlp_name(lm_mlp m);

/* The final norm before the LM head: present unless norms are ablated away
 * (pre-norm needs it; post-norm keeps it too, as CS336's ablation does). */
static inline bool config_has_final_norm(const lm_config *c) { return c->norm != NORM_NONE; }

/* True for a gated MLP (swiglu): three matrices instead of two. */
static inline bool config_mlp_gated(const lm_config *c) { return c->mlp == MLP_SWIGLU; }
static inline int config_head_size(const lm_config *c) { return c->d_model / c->n_head; }

#endif
