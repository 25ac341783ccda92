/*
 * test-adamw.c — test-tool adamw: the optimizer and schedule alone, for the
 * PyTorch comparison in t3001.
 *
 *   test-tool adamw OUT.safetensors     AdamW at lm-train(1)'s defaults
 *   test-tool adamw --schedule MAX MIN WARMUP CYCLE N   lr_at(0..N-1), one a line
 *
 * The AdamW run: a (8, 5) matrix (decayed) and a (7) vector (not decayed),
 * N(0, 0.1) initial values, 6 steps of gradients whose elements span 1e-9 to
 * 1 in size, lr from the cosine schedule (max 1e-2, min 1e-3, warmup 2,
 * cycle 5). Writes the initial parameters ("init.A", "init.b"), each step's
 * gradients ("g0.A", ...), the learning rates ("lrs"), the gradient norms
 * before clipping at 1.0 ("norms") and the final parameters ("A", "b").
 */
#include "ckpt/safetensors.h"
#include "model/rng.h"
#include "optim/adamw.h"
#include "optim/schedule.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 6
#define NA 40
#define NB 7

static int schedule_main(char **argv)
{
	lr_schedule s = {atof(argv[0]), atof(argv[1]), atol(argv[2]), atol(argv[3])};
	long n = atol(argv[4]);
	for (long it = 0; it < n; it++)
		printf("%.10f\n", lr_at(&s, it));
	return 0;
}

int cmd__adamw(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "--schedule") == 0)
		return schedule_main(argv + 2);
	if (argc != 2)
		return 2;
	static float params[NA + NB], init[NA + NB], grads[STEPS][NA + NB];
	static float lrs[STEPS], norms[STEPS];
	lm_rng rng;
	rng_seed(&rng, 42);
	for (int i = 0; i < NA + NB; i++)
		init[i] = params[i] = (float)(0.1 * rng_normal(&rng));
	for (int s = 0; s < STEPS; s++)
		for (int i = 0; i < NA + NB; i++)  /* magnitudes 1e-9 .. 1 */
			grads[s][i] = (float)(rng_normal(&rng) * pow(10.0, -9.0 * rng_uniform(&rng)));
	adamw_span spans[] = {{0, NA, 1}, {NA, NB, 0}};
	adamw opt;
	if (adamw_init(&opt, NA + NB, spans, 2, ADAMW_DEFAULTS) != 0) {
		fprintf(stderr, "error: %s\n", lm_last_error());
		return 1;
	}
	lr_schedule sched = {1e-2, 1e-3, 2, 5};
	float g[NA + NB];
	for (int s = 0; s < STEPS; s++) {
		memcpy(g, grads[s], sizeof g);
		norms[s] = (float)grad_clip(g, NA + NB, 1.0);
		lrs[s] = (float)lr_at(&sched, s);
		adamw_step(&opt, params, g, lr_at(&sched, s));
	}
	adamw_free(&opt);
	char names[2 * STEPS][16];
	st_tensor ts[2 * STEPS + 6];
	int n = 0;
	ts[n++] = (st_tensor){.name = "init.A", .ndim = 2, .shape = {8, 5}, .data = init};
	ts[n++] = (st_tensor){.name = "init.b", .ndim = 1, .shape = {NB}, .data = init + NA};
	ts[n++] = (st_tensor){.name = "A", .ndim = 2, .shape = {8, 5}, .data = params};
	ts[n++] = (st_tensor){.name = "b", .ndim = 1, .shape = {NB}, .data = params + NA};
	ts[n++] = (st_tensor){.name = "lrs", .ndim = 1, .shape = {STEPS}, .data = lrs};
	ts[n++] = (st_tensor){.name = "norms", .ndim = 1, .shape = {STEPS}, .data = norms};
	for (int s = 0; s < STEPS; s++) {
		snprintf(names[2 * s], 16, "g%d.A", s);
		snprintf(names[2 * s + 1], 16, "g%d.b", s);
		ts[n++] = (st_tensor){.name = names[2 * s], .ndim = 2, .shape = {8, 5}, .data = grads[s]};
		ts[n++] = (st_tensor){.name = names[2 * s + 1], .ndim = 1, .shape = {NB},
				      .data = grads[s] + NA};
	}
	if (st_write(argv[1], ts, n, NULL, 0, true) != 0) {
		fprintf(stderr, "error: %s\n", lm_last_error());
		return 1;
	}
	return 0;
}
