/*
 * test-tool layer-plan — a config's layer plan (model/layer_plan.h) in
 * words: the steps of a layer, then the backward the plan derived from them.
 *
 *   test-tool layer-plan CONFIG
 */
#include "ckpt/ckpt.h"
#include "model/config.h"
#include "model/layer_plan.h"
#include "util/error.h"

#include <stdio.h>

int cmd__layer_plan(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test-tool layer-plan CONFIG\n");
		return 2;
	}
	lm_config c;
	if (ckpt_load_config(&c, argv[1]) != 0 || config_finish(&c) != 0) {
		fprintf(stderr, "test-tool: %s\n", lm_last_error());
		return 1;
	}
	layer_plan p;
	layer_plan_init(&p, &c);
	char buf[2048];
	if (layer_plan_describe(&p, buf, sizeof buf) >= (int)sizeof buf) {
		fprintf(stderr, "test-tool: the plan's description is too long\n");
		return 1;
	}
	fputs(buf, stdout);
	return 0;
}
