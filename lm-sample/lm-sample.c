/*
 * lm-sample — text from a checkpoint: greedy, or sampled with temperature,
 * top-k and top-p, streamed as it is made.
 *
 *   lm-sample CKPT [-p PROMPT] [-n TOKENS] [-t TEMP] [-k TOPK] [--top-p P]
 *                  [--seed S] [--num N] [--tokenizer MERGES] [--ids] [--no-cache]
 *
 * The prompt is -p, else stdin when it is not a terminal, else
 * <|endoftext|> alone (an unconditional sample). Only the new text is
 * printed, flushed token by token; bytes of an incomplete UTF-8 character
 * wait for the token that completes it. Sampling stops at <|endoftext|>
 * (not printed) or after TOKENS. The loop (over the model's KV cache, or
 * with --no-cache the whole window again each token) and the sampler live
 * in share/sample; this file wires options to them and prints.
 */
#include "ckpt/ckpt.h"
#include "eval/tokenizer.h"
#include "model/device.h"
#include "model/gpt.h"
#include "sample/generate.h"
#include "sample/sampler.h"
#include "util/cli.h"
#include "util/error.h"
#include "util/io.h"
#include "util/threads.h"
#ifdef LMPIPE_CUDA
#include "model/cuda/gpt_cuda.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_TOP_P = OPT_TOOL_BASE, OPT_SEED, OPT_NUM, OPT_TOKENIZER, OPT_IDS, OPT_NO_CACHE,
       OPT_DEVICE };

struct options {
	const char *ckpt;
	const char *prompt, *tokenizer, *device;
	int max_new, num, ids, no_cache;
	uint64_t seed;
	sample_opts so;
};

static void usage(void)
{
	printf("usage: lm-sample CKPT [-p PROMPT] [-n TOKENS] [-t TEMP] [-k TOPK] [--top-p P]\n"
	       "                      [--seed S] [--num N] [--tokenizer MERGES] [--ids] [--no-cache]\n"
	       "\n"
	       "Continue PROMPT (-p, else stdin, else <|endoftext|>) with the model of CKPT\n"
	       "(an lmpipe checkpoint or a transformers directory), streaming the new text.\n"
	       "  -p, --prompt TEXT      the prompt\n"
	       "  -n, --tokens N         new tokens at most (default 256); <|endoftext|> stops\n"
	       "  -t, --temperature T    softmax temperature; 0 = greedy (default 1)\n"
	       "  -k, --top-k K          keep the K most probable tokens (default 0: all)\n"
	       "      --top-p P          keep the smallest set reaching probability P (default 1)\n"
	       "      --seed S           the random seed; sample i uses S + i (default 1337)\n"
	       "      --num N            N samples, separated by a line \"---\" (default 1)\n"
	       "      --tokenizer FILE   merges (or .tiktoken) instead of the checkpoint's own\n"
	       "                         (default: its metadata, else GPT-2's)\n"
	       "      --ids              print the new token ids, one line a sample, not text\n"
	       "      --no-cache         forward the whole window for every token (no KV cache;\n"
	       "                         slow, for comparison)\n"
	       "      --device DEV       cpu, cuda or auto (cuda when there is a GPU; default);\n"
	       "                         on cuda each token forwards the sequence again (no KV\n"
	       "                         cache on the GPU yet)\n"
	       "  -h, --help             this help\n"
	       "      --version          the version and the features of this build\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"prompt", required_argument, NULL, 'p'},
		{"tokens", required_argument, NULL, 'n'},
		{"temperature", required_argument, NULL, 't'},
		{"top-k", required_argument, NULL, 'k'},
		{"top-p", required_argument, NULL, OPT_TOP_P},
		{"seed", required_argument, NULL, OPT_SEED},
		{"num", required_argument, NULL, OPT_NUM},
		{"tokenizer", required_argument, NULL, OPT_TOKENIZER},
		{"ids", no_argument, NULL, OPT_IDS},
		{"no-cache", no_argument, NULL, OPT_NO_CACHE},
		{"device", required_argument, NULL, OPT_DEVICE},
		CLI_COMMON_OPTIONS,
		{0},
	};
	*o = (struct options){.max_new = 256, .num = 1, .seed = 1337, .device = "auto",
			      .so = {.temperature = 1, .top_k = 0, .top_p = 1}};
	int opt, rc = 0;
	double real;
	while (rc == 0 && (opt = cli_getopt(argc, argv, "p:n:t:k:h", longopts)) != -1) {
		switch (opt) {
		case 'p': o->prompt = optarg; break;
		case 'n': rc = cli_arg_int("--tokens", optarg, 0, 1 << 30, &o->max_new); break;
		case 't':
			if ((rc = cli_arg_real("--temperature", optarg, &real)) != 0)
				break;
			if (!(real >= 0))
				return cli_usage_error("--temperature: '%s' must be >= 0", optarg);
			o->so.temperature = real;
			break;
		case 'k': rc = cli_arg_int("--top-k", optarg, 0, 1 << 30, &o->so.top_k); break;
		case OPT_TOP_P:
			if ((rc = cli_arg_real("--top-p", optarg, &real)) != 0)
				break;
			if (!(real > 0 && real <= 1))
				return cli_usage_error("--top-p: '%s' must be in (0, 1]", optarg);
			o->so.top_p = real;
			break;
		case OPT_SEED: rc = cli_arg_count("--seed", optarg, &o->seed); break;
		case OPT_NUM: rc = cli_arg_int("--num", optarg, 1, 1 << 20, &o->num); break;
		case OPT_TOKENIZER: o->tokenizer = optarg; break;
		case OPT_IDS: o->ids = 1; break;
		case OPT_NO_CACHE: o->no_cache = 1; break;
		case OPT_DEVICE: o->device = optarg; break;
		default: return cli_common_option(opt, usage);
		}
	}
	if (rc != 0)
		return rc;
	if (argc - optind != 1)
		return cli_usage_error("one checkpoint: lm-sample CKPT [options] (see --help)");
	o->ckpt = argv[optind];
	const char *dev = device_resolve(o->device);
	if (!dev)
		lm_usage_error("--device: '%s' is cpu, cuda or auto", o->device);
	if (o->no_cache && strcmp(o->device, "cuda") == 0)
		lm_usage_error("--no-cache is for the CPU's KV cache; --device cuda has none");
	o->device = o->no_cache ? "cpu" : dev;
	return CLI_RUN;
}

/* ---- the GPU --------------------------------------------------------------- */

/* --device cuda: the model on the GPU (model/cuda/gpt_cuda.h) behind a
 * gen_model for generate_with. */
typedef struct {
#ifdef LMPIPE_CUDA
	gpt_cuda g;
	gpt_cuda_gen s;
#endif
	gen_model gm;
} gpu_model;

static int gpu_open(gpu_model *p, gpt_model *m)
{
#ifdef LMPIPE_CUDA
	if (cu_device_check("--device cuda") != 0 || gpt_cuda_open(&p->g, m) != 0)
		return -1;
	if (gpt_cuda_gen_open(&p->s, &p->g) != 0) {
		gpt_cuda_close(&p->g);
		return -1;
	}
	gpt_cuda_gen_model(&p->s, &p->gm);
	return 0;
#else
	return lm_fail("--device cuda: this build has no CUDA (make found no nvcc)");
#endif
}

static void gpu_close(gpu_model *p)
{
#ifdef LMPIPE_CUDA
	gpt_cuda_gen_close(&p->s);
	gpt_cuda_close(&p->g);
#endif
}

/* ---- streaming --------------------------------------------------------- */

typedef struct {
	const lm_tokenizer *tok;
	int ids, eot;
	uint8_t pending[8];   /* bytes of an incomplete UTF-8 character */
	size_t npending;
	int nout;
} stream;

static int emit_token(void *ctx, uint32_t id)
{
	stream *s = ctx;
	if (s->ids) {
		printf("%s%u", s->nout++ ? " " : "", id);
		return fflush(stdout) == 0 ? 0 : lm_fail_errno("cannot write to stdout");
	}
	if ((int)id == s->eot)
		return 0;
	size_t n;
	const uint8_t *b = lm_tokenizer_bytes(s->tok, id, &n);
	if (!b)
		return lm_fail("the model made token %u, which the tokenizer (%s) lacks", id,
			       s->tok->source);
	uint8_t buf[512];
	size_t len = 0;
	for (size_t i = 0; i < s->npending; i++)
		buf[len++] = s->pending[i];
	for (size_t i = 0; i < n; i++) {
		if (len == sizeof buf) {   /* a long token: flush what is complete */
			fwrite(buf, 1, len, stdout);
			len = 0;
		}
		buf[len++] = b[i];
	}
	size_t ok = utf8_complete_prefix(buf, len);
	fwrite(buf, 1, ok, stdout);
	s->npending = len - ok;
	memcpy(s->pending, buf + ok, s->npending);
	return fflush(stdout) == 0 ? 0 : lm_fail_errno("cannot write to stdout");
}

/* The prompt's bytes and their number: stdin's may hold NUL bytes, which
 * are text to the tokenizer like any other byte. */
static char *read_prompt(const struct options *o, size_t *len)
{
	const char *fixed = o->prompt ? o->prompt : isatty(0) ? "" : NULL;
	char *s = fixed ? strdup(fixed) : read_whole_file("/dev/stdin", len);
	if (!s && fixed)
		lm_die("out of memory");
	if (!s)
		lm_die_last();
	if (fixed)
		*len = strlen(s);
	return s;
}

int main(int argc, char **argv)
{
	threads_init(argv);
	lm_set_progname(argv[0]);
	struct options o;
	int status = parse_options(argc, argv, &o);
	if (status != CLI_RUN)
		return status;
	const char *ckpt = o.ckpt;
	gpt_model m;
	lm_tokenizer tok;
	sampler smp;
	if (ckpt_open_model(&m, ckpt) != 0 || lm_tokenizer_open(&tok, ckpt, o.tokenizer) != 0 ||
	    sampler_init(&smp, m.cfg.vocab_size, &o.so) != 0)
		lm_die_last();
	size_t text_len;
	char *text = read_prompt(&o, &text_len);
	token_buf prompt = {0};
	if (lm_tokenizer_encode(&tok, text, text_len, &prompt) != 0)
		lm_die_last();
	if (prompt.n == 0) {
		if (tok.eot < 0)
			lm_die("an empty prompt and no <|endoftext|> to start from: give -p");
		token_buf_push(&prompt, (uint32_t)tok.eot);
	}
	for (size_t i = 0; i < prompt.n; i++)
		if (prompt.ids[i] >= (uint32_t)m.cfg.vocab_size)
			lm_die("the prompt's token %u is beyond the model's vocabulary (%d)",
			       prompt.ids[i], m.cfg.vocab_size);
	gpu_model gpu = {0};
	bool on_gpu = strcmp(o.device, "cuda") == 0;
	if (on_gpu && gpu_open(&gpu, &m) != 0)
		lm_die_last();
	for (int k = 0; k < o.num; k++) {
		if (k)
			fputs("\n---\n", stdout);
		sample_rng rng;
		sample_rng_seed(&rng, o.seed + (uint64_t)k);
		stream st = {.tok = &tok, .ids = o.ids, .eot = tok.eot};
		int (*gen)(gpt_model *, const uint32_t *, int, int, int, sampler *, sample_rng *,
			   generate_emit, void *) = o.no_cache ? generate_recompute : generate;
		int rc = on_gpu ? generate_with(&gpu.gm, prompt.ids, (int)prompt.n, o.max_new,
						tok.eot, &smp, &rng, emit_token, &st)
				: gen(&m, prompt.ids, (int)prompt.n, o.max_new, tok.eot, &smp,
				      &rng, emit_token, &st);
		if (rc != 0)
			lm_die_last();
		fwrite(st.pending, 1, st.npending, stdout);   /* bytes that never completed */
		putchar('\n');
	}
	token_buf_free(&prompt);
	free(text);
	sampler_free(&smp);
	lm_tokenizer_close(&tok);
	if (on_gpu)
		gpu_close(&gpu);
	gpt_free(&m);
	if (stdout_close_checked() != 0)
		lm_die_last();
	return 0;
}
