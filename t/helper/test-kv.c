/*
 * test-tool kv — the incremental forward (gpt_forward_next, a KV cache)
 * against the full forward, and generation past the context.
 *
 *   test-tool kv parity CONFIG SEED T SPLIT
 *       T random tokens (T <= ctx): gpt_forward once over all of them; then
 *       a fresh cache fed tokens[0..SPLIT) in one call (prefill) and the
 *       rest one a call. Prints "rel X" with X the largest, over the
 *       positions compared (SPLIT-1 and every later one), of
 *       max_i |inc_i - full_i| / max_i |full_i| over the V real logits.
 *   test-tool kv full CONFIG SEED
 *       a cache of ctx positions refuses a token more (exit 0 when it does)
 *   test-tool kv window CONFIG SEED PROMPT N
 *       greedy generate() of N tokens after PROMPT random tokens, then the
 *       window rule of sample/generate.h replayed with gpt_forward on each
 *       window: prints "ok N" when every token is the replay's argmax
 */
#include "ckpt/ckpt.h"
#include "model/config.h"
#include "model/gpt.h"
#include "model/rng.h"
#include "sample/generate.h"
#include "sample/sampler.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int open_model(gpt_model *m, const char *cfgpath, const char *seed)
{
	lm_config cfg;
	if (ckpt_load_config(&cfg, cfgpath) != 0 || config_finish(&cfg) != 0 ||
	    gpt_init(m, &cfg, strtoull(seed, NULL, 10)) != 0) {
		fprintf(stderr, "error: %s\n", lm_last_error());
		return -1;
	}
	return 0;
}

static void random_tokens(int *tok, int n, int V, uint64_t seed)
{
	lm_rng rng;
	rng_seed(&rng, seed);
	for (int i = 0; i < n; i++)
		tok[i] = (int)(rng_u64(&rng) % (uint64_t)V);
}

static double rel_err(const float *a, const float *ref, int V)
{
	double num = 0, den = 0;
	for (int i = 0; i < V; i++) {
		num = fmax(num, fabs((double)a[i] - ref[i]));
		den = fmax(den, fabs((double)ref[i]));
	}
	return num / den;
}

static int parity(char **argv)
{
	gpt_model m;
	if (open_model(&m, argv[0], argv[1]) != 0)
		return 1;
	int T = atoi(argv[2]), split = atoi(argv[3]), V = m.cfg.vocab_size, Vp = m.cfg.padded_vocab;
	int *tok = malloc(sizeof(int) * (size_t)T);
	float *full = malloc(sizeof(float) * (size_t)T * Vp);
	random_tokens(tok, T, V, 11);
	gpt_kv kv;
	double worst = 0;
	int rc = 1;
	if (gpt_forward(&m, tok, NULL, 1, T, NULL) != 0)
		goto out;
	memcpy(full, m.acts.logits, sizeof(float) * (size_t)T * Vp);
	if (gpt_kv_alloc(&kv, &m, m.cfg.ctx) != 0)
		goto out;
	const float *lg;
	for (int t = 0; t < T; t = t ? t + 1 : split) {
		int n = t ? 1 : split;
		if (gpt_forward_next(&m, &kv, tok + t, n, &lg) != 0) {
			gpt_kv_free(&kv);
			goto out;
		}
		worst = fmax(worst, rel_err(lg, full + (size_t)(t + n - 1) * Vp, V));
	}
	gpt_kv_free(&kv);
	printf("rel %.3g\n", worst);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "error: %s\n", lm_last_error());
	free(tok);
	free(full);
	gpt_free(&m);
	return rc;
}

static int full_cache(char **argv)
{
	gpt_model m;
	if (open_model(&m, argv[0], argv[1]) != 0)
		return 1;
	int ctx = m.cfg.ctx;
	int *tok = calloc((size_t)ctx + 1, sizeof(int));
	gpt_kv kv;
	const float *lg;
	int rc = gpt_kv_alloc(&kv, &m, ctx) != 0 || gpt_forward_next(&m, &kv, tok, ctx, &lg) != 0 ||
		 gpt_forward_next(&m, &kv, tok, 1, &lg) == 0;
	if (!rc)
		printf("refused: %s\n", lm_last_error());
	gpt_kv_free(&kv);
	free(tok);
	gpt_free(&m);
	return rc;
}

typedef struct {
	int *ids, n;
} collect;

static int collect_emit(void *ctx, uint32_t id)
{
	collect *c = ctx;
	c->ids[c->n++] = (int)id;
	return 0;
}

static int window(char **argv)
{
	gpt_model m;
	if (open_model(&m, argv[0], argv[1]) != 0)
		return 1;
	int P = atoi(argv[2]), N = atoi(argv[3]), ctx = m.cfg.ctx, V = m.cfg.vocab_size;
	int *ids = malloc(sizeof(int) * (size_t)(P + N));
	uint32_t *prompt = malloc(sizeof(uint32_t) * (size_t)P);
	random_tokens(ids, P, V, 12);
	for (int i = 0; i < P; i++)
		prompt[i] = (uint32_t)ids[i];
	sampler s;
	sample_opts so = {.temperature = 0, .top_k = 0, .top_p = 1};
	sample_rng rng;
	sample_rng_seed(&rng, 1);
	collect c = {ids + P, 0};
	int rc = 1;
	if (sampler_init(&s, V, &so) != 0 ||
	    generate(&m, prompt, P, N, -1, &s, &rng, collect_emit, &c) != 0 || c.n != N)
		goto out;
	/* the rule of generate.h: a prompt keeps its last ctx tokens; when the
	 * next would overflow, the window restarts from the last ceil(ctx/2) */
	int base = P > ctx ? P - ctx : 0, refills = 0;
	for (int len = P; len < P + N; len++) {
		if (len - base > ctx) {
			base = len - (ctx - ctx / 2);
			refills++;
		}
		if (gpt_forward(&m, ids + base, NULL, 1, len - base, NULL) != 0)
			goto out;
		int want = sample_argmax(m.acts.logits + (size_t)(len - base - 1) * m.cfg.padded_vocab, V);
		if (want != ids[len]) {
			fprintf(stderr, "token %d: generate %d, the window's forward %d\n", len, ids[len], want);
			goto out;
		}
	}
	printf("ok %d (%d refills)\n", N, refills);
	rc = 0;
out:
	if (rc && lm_last_error()[0])
		fprintf(stderr, "error: %s\n", lm_last_error());
	sampler_free(&s);
	free(ids);
	free(prompt);
	gpt_free(&m);
	return rc;
}

int cmd__kv(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "parity"))
		return parity(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "full"))
		return full_cache(argv + 2);
	if (argc == 6 && !strcmp(argv[1], "window"))
		return window(argv + 2);
	fprintf(stderr, "usage: test-tool kv parity CONFIG SEED T SPLIT | full CONFIG SEED |"
		" window CONFIG SEED PROMPT N\n");
	return 2;
}
