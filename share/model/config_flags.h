/*
 * config_flags.h — the model flags every lm-* tool takes, in one place.
 *
 *   --family gpt2|llama  --layers N  --d-model N  --heads N  --ff N
 *   --ctx N  --vocab N  --norm pre|post|none  --positions learned|rope|none
 *   --mlp gelu|swiglu|silu
 *
 * A tool adds CONFIG_LONG_OPTIONS to its getopt_long table, hands each
 * option to config_flags_arg(), and after loading the base model (a preset,
 * JSON or checkpoint) applies the overrides with config_flags_apply().
 * --family switches the family's defaults (norm kind, positions, MLP,
 * biases, tying) and keeps the sizes; the other switches then apply.
 */
#ifndef LMPIPE_CONFIG_FLAGS_H
#define LMPIPE_CONFIG_FLAGS_H

#include "model/config.h"

#include <getopt.h>
#include <stdbool.h>

enum {
	OPT_FAMILY = 0x300, OPT_LAYERS, OPT_D_MODEL, OPT_HEADS, OPT_FF, OPT_CTX,
	OPT_VOCAB, OPT_NORM, OPT_POSITIONS, OPT_MLP,
};

#define CONFIG_LONG_OPTIONS                                         \
	{"family", required_argument, NULL, OPT_FAMILY},            \
	{"layers", required_argument, NULL, OPT_LAYERS},            \
	{"d-model", required_argument, NULL, OPT_D_MODEL},          \
	{"heads", required_argument, NULL, OPT_HEADS},              \
	{"ff", required_argument, NULL, OPT_FF},                    \
	{"ctx", required_argument, NULL, OPT_CTX},                  \
	{"vocab", required_argument, NULL, OPT_VOCAB},              \
	{"norm", required_argument, NULL, OPT_NORM},                \
	{"positions", required_argument, NULL, OPT_POSITIONS},      \
	{"mlp", required_argument, NULL, OPT_MLP}

/* Lines for a tool's usage(). */
#define CONFIG_FLAGS_HELP                                                          \
	"Model overrides (after the preset, config or checkpoint):\n"                 \
	"      --family gpt2|llama      switch family defaults, keep the sizes\n"     \
	"      --layers N  --d-model N  --heads N  --ff N  --ctx N  --vocab N\n"      \
	"      --norm pre|post|none  --positions learned|rope|none\n"                 \
	"      --mlp gelu|swiglu|silu\n"

typedef struct {
	bool has_family, has_norm, has_positions, has_mlp;
	lm_family family;
	lm_norm_place norm;
	lm_positions positions;
	lm_mlp mlp;
	int layers, d_model, heads, ff, ctx, vocab;   /* 0 = keep */
} config_flags;

/* Take one getopt result, in the skeleton of util/cli.h: CONFIG_FLAGS_OTHER
 * when OPT is no model flag, 0 when taken, or EXIT_USAGE with the usage
 * error printed on a malformed value. */
enum { CONFIG_FLAGS_OTHER = -1 };
int config_flags_arg(config_flags *f, int opt, const char *arg);
/* Apply to a loaded config, then config_finish(); -1 with an error. */
int config_flags_apply(const config_flags *f, lm_config *c);

#endif
