/*
 * config.c — presets, JSON configs (ours, transformers', CS336's), checks.
 */
#include "model/config.h"
#include "util/error.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPT2_VOCAB 50257
#define GPT2_CTX 1024

/* ---- names of the switches --------------------------------------------- */

static const char *const family_names[] = {"gpt2", "llama"};
static const char *const norm_names[] = {"pre", "post", "none"};
static const char *const norm_kind_names[] = {"layernorm", "rmsnorm"};
static const char *const positions_names[] = {"learned", "rope", "none"};
static const char *const mlp_names[] = {"gelu", "swiglu", "silu"};

static int lookup(const char *s, const char *const *names, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (s && strcmp(s, names[i]) == 0)
			return i;
	char choices[128] = "";
	for (int i = 0; i < n; i++) {
		strcat(choices, names[i]);
		if (i + 1 < n)
			strcat(choices, "|");
	}
	return lm_fail("unknown %s '%s' (choose %s)", what, s ? s : "", choices);
}

#define PARSER(fn, type, names, what)                                  \
	int fn(const char *s, type *out)                               \
	{                                                              \
		int i = lookup(s, names, (int)(sizeof names / sizeof *names), what); \
		if (i < 0)                                             \
			return -1;                                     \
		*out = (type)i;                                        \
		return 0;                                              \
	}
PARSER(config_parse_family, lm_family, family_names, "model family")
PARSER(config_parse_norm, lm_norm_place, norm_names, "norm placement")
PARSER(config_parse_positions, lm_positions, positions_names, "positions")
PARSER(config_parse_mlp, lm_mlp, mlp_names, "mlp")

const char *config_family_name(lm_family f) { return family_names[f]; }
const char *config_norm_name(lm_norm_place n) { return norm_names[n]; }
const char *config_norm_kind_name(lm_norm_kind k) { return norm_kind_names[k]; }
const char *config_positions_name(lm_positions p) { return positions_names[p]; }
const char *config_mlp_name(lm_mlp m) { return mlp_names[m]; }

/* ---- presets ------------------------------------------------------------ */

void config_family_defaults(lm_config *c, lm_family family)
{
	memset(c, 0, sizeof *c);
	c->family = family;
	c->norm = NORM_PRE;
	c->rope_theta = 10000.0;
	if (family == FAMILY_GPT2) {
		c->norm_kind = NORM_LAYERNORM;
		c->pos = POS_LEARNED;
		c->mlp = MLP_GELU;
		c->bias = true;
		c->tied_head = true;
		c->norm_eps = 1e-5;
	} else {
		c->norm_kind = NORM_RMSNORM;
		c->pos = POS_ROPE;
		c->mlp = MLP_SWIGLU;
		c->bias = false;
		c->tied_head = false;
		c->norm_eps = 1e-5;
	}
}

struct preset {
	const char *name;
	lm_family family;
	int n_layer, d_model, n_head, d_ff, vocab, ctx;
};

static const struct preset presets[] = {
	{"gpt2", FAMILY_GPT2, 12, 768, 12, 0, GPT2_VOCAB, GPT2_CTX},
	{"gpt2-medium", FAMILY_GPT2, 24, 1024, 16, 0, GPT2_VOCAB, GPT2_CTX},
	{"gpt2-large", FAMILY_GPT2, 36, 1280, 20, 0, GPT2_VOCAB, GPT2_CTX},
	{"gpt2-xl", FAMILY_GPT2, 48, 1600, 25, 0, GPT2_VOCAB, GPT2_CTX},
	/* CS336 assignment 1: the TinyStories model. */
	{"cs336-ts", FAMILY_LLAMA, 4, 512, 16, 1344, 10000, 256},
	{"tinystories", FAMILY_LLAMA, 4, 512, 16, 1344, 10000, 256},
};

/* "dN": depth N, width 64N, N heads (llm.c's d12 = gpt2 124M). */
static int parse_depth_preset(const char *name, int *depth)
{
	if (name[0] != 'd' || !name[1])
		return 0;
	char *end;
	long n = strtol(name + 1, &end, 10);
	if (*end || n < 1 || n > 256)
		return 0;
	*depth = (int)n;
	return 1;
}

int config_preset(lm_config *c, const char *name)
{
	for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
		const struct preset *p = &presets[i];
		if (strcmp(name, p->name) != 0)
			continue;
		config_family_defaults(c, p->family);
		c->n_layer = p->n_layer;
		c->d_model = p->d_model;
		c->n_head = p->n_head;
		c->d_ff = p->d_ff;
		c->vocab_size = p->vocab;
		c->ctx = p->ctx;
		snprintf(c->name, sizeof c->name, "%s", name);
		return 0;
	}
	int depth;
	if (parse_depth_preset(name, &depth)) {
		config_family_defaults(c, FAMILY_GPT2);
		c->n_layer = depth;
		c->d_model = 64 * depth;
		c->n_head = depth;
		c->vocab_size = GPT2_VOCAB;
		c->ctx = GPT2_CTX;
		snprintf(c->name, sizeof c->name, "%s", name);
		return 0;
	}
	return lm_fail("unknown model '%s' (presets: gpt2, gpt2-medium, gpt2-large, "
		       "gpt2-xl, dN, cs336-ts; or a config .json or checkpoint)", name);
}

/* ---- JSON --------------------------------------------------------------- */

/* Set *out from the first of KEYS present in obj as an integer. */
static int json_int_field(json_t *obj, const char *const *keys, int *out, const char *origin)
{
	for (; *keys; keys++) {
		json_t *v = json_object_get(obj, *keys);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (1 << 30))
			return lm_fail("%s: '%s' must be a non-negative integer", origin, *keys);
		*out = (int)json_integer_value(v);
		return 0;
	}
	return 0;
}

static int json_float_field(json_t *obj, const char *key, double *out, const char *origin)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return lm_fail("%s: '%s' must be a number", origin, key);
	*out = json_number_value(v);
	return 0;
}

static int json_bool_field(json_t *obj, const char *key, bool *out, const char *origin)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return lm_fail("%s: '%s' must be true or false", origin, key);
	*out = json_is_true(v);
	return 0;
}

/* The string value of KEY, NULL when absent; an error when not a string. */
static int json_string_field(json_t *obj, const char *key, const char **out, const char *origin)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return lm_fail("%s: '%s' must be a string", origin, key);
	*out = json_string_value(v);
	return 0;
}

/* The family a JSON config describes: ours says "family", transformers says
 * "model_type", CS336's has "num_layers" (its model is the llama family). */
static int json_family(json_t *root, lm_family *family, const char *origin)
{
	json_t *f = json_object_get(root, "family");
	json_t *mt = json_object_get(root, "model_type");
	if (json_is_string(f))
		return config_parse_family(json_string_value(f), family) == 0 ? 0
			: lm_fail("%s: %s", origin, lm_last_error());
	if (json_is_string(mt)) {
		const char *t = json_string_value(mt);
		if (strcmp(t, "gpt2") == 0)
			*family = FAMILY_GPT2;
		else if (strcmp(t, "llama") == 0)
			*family = FAMILY_LLAMA;
		else
			return lm_fail("%s: unsupported model_type '%s' (gpt2 or llama)", origin, t);
		return 0;
	}
	if (json_object_get(root, "num_layers") || json_object_get(root, "num_hidden_layers")) {
		*family = FAMILY_LLAMA;
		return 0;
	}
	if (json_object_get(root, "n_layer")) {
		*family = FAMILY_GPT2;
		return 0;
	}
	return lm_fail("%s: cannot tell the model family (no 'family' or 'model_type')", origin);
}

/* CS336's ablation keys (remove_rmsnorm, use_post_norm, remove_rope, ffn_type). */
static int json_cs336_switches(json_t *root, lm_config *c, const char *origin)
{
	bool remove_norm = false, post_norm = false, remove_rope = false;
	if (json_bool_field(root, "remove_rmsnorm", &remove_norm, origin) ||
	    json_bool_field(root, "use_post_norm", &post_norm, origin) ||
	    json_bool_field(root, "remove_rope", &remove_rope, origin))
		return -1;
	if (remove_norm)
		c->norm = NORM_NONE;
	else if (post_norm)
		c->norm = NORM_POST;
	if (remove_rope)
		c->pos = POS_NONE;
	json_t *ffn = json_object_get(root, "ffn_type");
	if (json_is_string(ffn) && config_parse_mlp(json_string_value(ffn), &c->mlp) != 0)
		return lm_fail("%s: bad 'ffn_type': %s", origin, lm_last_error());
	return 0;
}

static int json_sizes(json_t *root, lm_config *c, const char *origin)
{
	static const char *const layer_keys[] = {"n_layer", "num_layers", "num_hidden_layers", NULL};
	static const char *const width_keys[] = {"d_model", "n_embd", "hidden_size", NULL};
	static const char *const head_keys[] = {"n_head", "num_heads", "num_attention_heads", NULL};
	static const char *const ff_keys[] = {"d_ff", "n_inner", "intermediate_size", NULL};
	static const char *const vocab_keys[] = {"vocab_size", NULL};
	static const char *const ctx_keys[] = {"ctx", "context_length", "n_positions",
					       "max_position_embeddings", NULL};
	if (json_int_field(root, layer_keys, &c->n_layer, origin) ||
	    json_int_field(root, width_keys, &c->d_model, origin) ||
	    json_int_field(root, head_keys, &c->n_head, origin) ||
	    json_int_field(root, ff_keys, &c->d_ff, origin) ||
	    json_int_field(root, vocab_keys, &c->vocab_size, origin) ||
	    json_int_field(root, ctx_keys, &c->ctx, origin))
		return -1;
	int kv_heads = c->n_head;
	static const char *const kv_keys[] = {"num_key_value_heads", NULL};
	if (json_int_field(root, kv_keys, &kv_heads, origin))
		return -1;
	if (kv_heads != c->n_head)
		return lm_fail("%s: grouped-query attention (num_key_value_heads %d != %d heads) "
			       "is not supported", origin, kv_heads, c->n_head);
	return 0;
}

static int json_switches(json_t *root, lm_config *c, const char *origin)
{
	const char *norm, *positions, *mlp;
	if (json_string_field(root, "norm", &norm, origin) ||
	    json_string_field(root, "positions", &positions, origin) ||
	    json_string_field(root, "mlp", &mlp, origin))
		return -1;
	if ((norm && config_parse_norm(norm, &c->norm)) ||
	    (positions && config_parse_positions(positions, &c->pos)) ||
	    (mlp && config_parse_mlp(mlp, &c->mlp)))
		return lm_fail("%s: %s", origin, lm_last_error());
	if (json_bool_field(root, "bias", &c->bias, origin) ||
	    json_bool_field(root, "tied_head", &c->tied_head, origin) ||
	    json_bool_field(root, "tie_word_embeddings", &c->tied_head, origin) ||
	    json_bool_field(root, "attention_bias", &c->bias, origin) ||  /* transformers' Llama */
	    json_float_field(root, "norm_eps", &c->norm_eps, origin) ||
	    json_float_field(root, "layer_norm_epsilon", &c->norm_eps, origin) ||
	    json_float_field(root, "rms_norm_eps", &c->norm_eps, origin) ||
	    json_float_field(root, "rope_theta", &c->rope_theta, origin))
		return -1;
	return json_cs336_switches(root, c, origin);
}

int config_from_json(lm_config *c, const char *text, const char *origin)
{
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	if (!root)
		return lm_fail("%s: invalid JSON at line %d: %s", origin, jerr.line, jerr.text);
	int rc = -1;
	lm_family family = FAMILY_GPT2;
	if (!json_is_object(root)) {
		lm_fail("%s: a model config must be a JSON object", origin);
		goto out;
	}
	if (json_family(root, &family, origin) != 0)
		goto out;
	config_family_defaults(c, family);
	if (json_sizes(root, c, origin) != 0 || json_switches(root, c, origin) != 0)
		goto out;
	json_t *name = json_object_get(root, "name");
	snprintf(c->name, sizeof c->name, "%s", json_is_string(name) ? json_string_value(name) : origin);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

char *config_to_json(const lm_config *c)
{
	json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:s, s:s, s:b, s:b, s:f, s:f}",
			      "name", c->name, "family", config_family_name(c->family),
			      "n_layer", c->n_layer, "d_model", c->d_model, "n_head", c->n_head,
			      "d_ff", c->d_ff, "vocab_size", c->vocab_size, "ctx", c->ctx,
			      "norm", config_norm_name(c->norm),
			      "positions", config_positions_name(c->pos),
			      "mlp", config_mlp_name(c->mlp), "bias", c->bias,
			      "tied_head", c->tied_head, "norm_eps", c->norm_eps,
			      "rope_theta", c->rope_theta);
	if (!o)
		return NULL;
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(o);
	return s;
}

/* ---- loading from a file ------------------------------------------------ */

/* ---- derived values and checks ----------------------------------------- */

/* CS336: d_ff = 8/3 d rounded to the nearest multiple of 64 (512 -> 1344).
 * In 64 bits: the caller checks the result against CONFIG_MAX_DIM. */
static int64_t default_d_ff(const lm_config *c)
{
	if (config_mlp_gated(c)) {
		int64_t units = (int64_t)((8.0 * c->d_model / 3.0) / 64.0 + 0.5);
		return (units < 1 ? 1 : units) * 64;
	}
	return 4 * (int64_t)c->d_model;
}

/* A bound on the parameter count, in double (which cannot overflow here):
 * every matrix and vector a layer may have, the embeddings and the head. */
static double param_bound(const lm_config *c)
{
	double C = c->d_model, F = c->d_ff, Vp = c->padded_vocab;
	double layer = 4 * C * C + 3 * C * F + 12 * C + 3 * F;
	return c->n_layer * layer + 2 * Vp * C + (double)c->ctx * C + 2 * C;
}

/* The sizes fit the ints the shapes are made of, and their products the
 * counts: every width (the QKV rows 3C, d_ff, the padded vocabulary) at
 * most CONFIG_MAX_DIM, the parameters at most CONFIG_MAX_PARAMS. */
static int check_sizes(lm_config *c)
{
	const int64_t max = CONFIG_MAX_DIM;
	int64_t F = c->d_ff ? c->d_ff : default_d_ff(c);
	int64_t Vp = ((int64_t)c->vocab_size + VOCAB_PAD_MULTIPLE - 1) / VOCAB_PAD_MULTIPLE
		     * VOCAB_PAD_MULTIPLE;
	const struct { const char *what; int64_t v; } dims[] = {
		{"layers", c->n_layer}, {"width", c->d_model}, {"heads", c->n_head},
		{"the QKV rows (3 x width)", 3 * (int64_t)c->d_model}, {"d_ff", F},
		{"the padded vocabulary", Vp}, {"context", c->ctx},
	};
	for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
		if (dims[i].v > max)
			return lm_fail("model '%s': %s %lld is too large (at most %lld)", c->name,
				       dims[i].what, (long long)dims[i].v, (long long)max);
	c->d_ff = (int)F;
	c->padded_vocab = (int)Vp;
	double params = param_bound(c);
	if (params > CONFIG_MAX_PARAMS)
		return lm_fail("model '%s': about %.3g parameters, too many to count exactly "
			       "(at most %.3g)", c->name, params, CONFIG_MAX_PARAMS);
	return 0;
}

int config_finish(lm_config *c)
{
	if (c->n_layer < 1 || c->d_model < 1 || c->n_head < 1 || c->vocab_size < 1 || c->ctx < 1)
		return lm_fail("model '%s': layers, width, heads, vocab and context must be positive",
			       c->name);
	if (c->d_model % c->n_head != 0)
		return lm_fail("model '%s': width %d is not divisible by %d heads",
			       c->name, c->d_model, c->n_head);
	if (c->pos == POS_ROPE && config_head_size(c) % 2 != 0)
		return lm_fail("model '%s': RoPE needs an even head size, not %d",
			       c->name, config_head_size(c));
	if (check_sizes(c) != 0)
		return -1;
	if (!(c->norm_eps > 0 && isfinite(c->norm_eps)))
		return lm_fail("model '%s': norm epsilon must be positive", c->name);
	if (c->pos == POS_ROPE && !(c->rope_theta > 0 && isfinite(c->rope_theta)))
		return lm_fail("model '%s': rope_theta must be positive, not %g", c->name,
			       c->rope_theta);
	return 0;
}
