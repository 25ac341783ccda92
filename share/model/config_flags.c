/*
 * config_flags.c — model overrides from the command line.
 */
#include "model/config_flags.h"
#include "util/cli.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_DIM (1 << 20)

/* 0 with the switch set, or the usage error printed and EXIT_USAGE. */
static int parse_switch(int rc, const char *option, bool *has)
{
	if (rc != 0)
		return cli_usage_error("%s: %s", option, lm_last_error());
	*has = true;
	return 0;
}

int config_flags_arg(config_flags *f, int opt, const char *arg)
{
	switch (opt) {
	case OPT_FAMILY:
		return parse_switch(config_parse_family(arg, &f->family), "--family", &f->has_family);
	case OPT_NORM:
		return parse_switch(config_parse_norm(arg, &f->norm), "--norm", &f->has_norm);
	case OPT_POSITIONS:
		return parse_switch(config_parse_positions(arg, &f->positions), "--positions",
				    &f->has_positions);
	case OPT_MLP:
		return parse_switch(config_parse_mlp(arg, &f->mlp), "--mlp", &f->has_mlp);
	case OPT_LAYERS: return cli_arg_int("--layers", arg, 1, MAX_DIM, &f->layers);
	case OPT_D_MODEL: return cli_arg_int("--d-model", arg, 1, MAX_DIM, &f->d_model);
	case OPT_HEADS: return cli_arg_int("--heads", arg, 1, MAX_DIM, &f->heads);
	case OPT_FF: return cli_arg_int("--ff", arg, 1, 1 << 24, &f->ff);
	case OPT_CTX: return cli_arg_int("--ctx", arg, 1, 1 << 24, &f->ctx);
	case OPT_VOCAB: return cli_arg_int("--vocab", arg, 1, 1 << 30, &f->vocab);
	default:
		return CONFIG_FLAGS_OTHER;
	}
}

/* Switch family: the new family's defaults, the old sizes. */
static void switch_family(lm_config *c, lm_family family)
{
	lm_config sized = *c;
	config_family_defaults(c, family);
	snprintf(c->name, sizeof c->name, "%s", sized.name);
	c->n_layer = sized.n_layer;
	c->d_model = sized.d_model;
	c->n_head = sized.n_head;
	c->vocab_size = sized.vocab_size;
	c->ctx = sized.ctx;
	c->d_ff = 0;   /* the new family's default width, unless --ff */
}

int config_flags_apply(const config_flags *f, lm_config *c)
{
	if (f->has_family && f->family != c->family)
		switch_family(c, f->family);
	if (f->has_mlp && f->mlp != c->mlp) {
		c->mlp = f->mlp;
		c->d_ff = 0;
	}
	if (f->has_norm)
		c->norm = f->norm;
	if (f->has_positions)
		c->pos = f->positions;
	if (f->layers) c->n_layer = f->layers;
	if (f->d_model) c->d_model = f->d_model;
	if (f->heads) c->n_head = f->heads;
	if (f->ctx) c->ctx = f->ctx;
	if (f->vocab) c->vocab_size = f->vocab;
	if (f->ff) c->d_ff = f->ff;
	else if (f->d_model) c->d_ff = 0;   /* follow the new width */
	return config_finish(c);
}
