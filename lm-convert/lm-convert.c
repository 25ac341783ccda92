/*
 * lm-convert — a model (and its tokenizer) from any format we read into
 * any we write, so a model trained here opens in transformers, llm.c and
 * llama.cpp, and theirs open here.
 *
 *   lm-convert [-f] [-t f32|f16|bf16] [--tokenizer FILE] IN OUT
 *
 * IN is told by its content: our safetensors, a transformers directory,
 * llm.c's .bin, GGUF; for OUT "*tokenizer.bin", also a tokenizer file (merges,
 * .tiktoken, llm.c's). OUT by its name (ckpt/format.h): .safetensors, .gguf,
 * *tokenizer.bin (llm.c's tokenizer), .bin (llm.c's model), anything else a
 * transformers directory. Every check comes before the first byte is
 * written, and every file is written atomically: a bad input or a model
 * the target cannot express leaves OUT untouched.
 */
#include "ckpt/ckpt.h"
#include "ckpt/format.h"
#include "ckpt/gguf.h"
#include "ckpt/hf_dir.h"
#include "ckpt/llmc.h"
#include "eval/tokenizer.h"
#include "model/gpt.h"
#include "util/cli.h"
#include "util/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_TOKENIZER = OPT_TOOL_BASE };

struct options {
	const char *in, *out, *tokenizer;
	ckpt_dtype dt;
	bool dt_given, force;
};

static void usage(void)
{
	printf("usage: lm-convert [-f] [-t f32|f16|bf16] [--tokenizer FILE] IN OUT\n"
	       "\n"
	       "Convert the model IN (safetensors, a transformers directory, llm.c's .bin or\n"
	       "GGUF, told by content) into OUT, whose name chooses the format:\n"
	       "  DIR                  a transformers directory (config.json, model.safetensors,\n"
	       "                       the tokenizer, generation_config.json)\n"
	       "  NAME.safetensors     lmpipe's checkpoint (transformers' names, fp32)\n"
	       "  NAME.bin             llm.c's checkpoint (fp32, or -t bf16)\n"
	       "  NAMEtokenizer.bin    llm.c's tokenizer (IN: a checkpoint or a tokenizer file)\n"
	       "  NAME.gguf            GGUF for llama.cpp, with the tokenizer (f32, f16, bf16)\n"
	       "\n"
	       "  -t, --dtype T        the element type of the matrices (default f32)\n"
	       "      --tokenizer FILE the tokenizer (merges, .tiktoken or llm.c's) instead of\n"
	       "                       IN's own (its metadata, its directory's, else GPT-2's)\n"
	       "  -f, --force          replace OUT if it exists\n"
	       "  -h, --help           this help\n"
	       "      --version        the version and the features of this build\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"dtype", required_argument, NULL, 't'},
		{"tokenizer", required_argument, NULL, OPT_TOKENIZER},
		{"force", no_argument, NULL, 'f'},
		CLI_COMMON_OPTIONS,
		{0},
	};
	*o = (struct options){.dt = DT_F32};
	int opt;
	while ((opt = cli_getopt(argc, argv, "t:fh", longopts)) != -1) {
		switch (opt) {
		case 't':
			if (ckpt_parse_dtype(optarg, &o->dt) != 0)
				return cli_usage_error("--dtype: '%s' is f32, f16 or bf16", optarg);
			o->dt_given = true;
			break;
		case OPT_TOKENIZER: o->tokenizer = optarg; break;
		case 'f': o->force = true; break;
		default: return cli_common_option(opt, usage);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("two operands: lm-convert IN OUT (see --help)");
	o->in = argv[optind];
	o->out = argv[optind + 1];
	return CLI_RUN;
}

/* ---- the tokenizer ------------------------------------------------------------ */

/* IN's tokenizer (or --tokenizer's): 1 when found, 0 when none fits the
 * model (said on stderr unless the format needs one), -1 on an error. */
static int open_tokenizer(lm_tokenizer *t, const struct options *o, const gpt_model *m)
{
	if (lm_tokenizer_open(t, o->in, o->tokenizer) != 0)
		return o->tokenizer ? -1 : 0;
	if (!m || t->m.vocab_size <= (uint32_t)m->cfg.vocab_size)
		return 1;
	lm_fail("the tokenizer %s has %u tokens, the model's vocabulary %d", t->source,
		t->m.vocab_size, m->cfg.vocab_size);
	lm_tokenizer_close(t);
	return o->tokenizer ? -1 : 0;
}

static int convert_tokenizer(const struct options *o)
{
	lm_tokenizer t;
	int rc = -1;
	if (ckpt_has_weights(o->in))
		rc = lm_tokenizer_open(&t, o->in, o->tokenizer);
	else
		rc = lm_tokenizer_open(&t, NULL, o->tokenizer ? o->tokenizer : o->in);
	if (rc != 0)
		return -1;
	rc = llmc_tokenizer_write(&t.m, o->out, o->force);
	lm_tokenizer_close(&t);
	return rc;
}

/* ---- the model -------------------------------------------------------------------- */

static int write_model(const struct options *o, ckpt_format fmt, const gpt_model *m,
		       const bpe_merges *tok)
{
	switch (fmt) {
	case FMT_SAFETENSORS: return ckpt_save_with_tokenizer(m, o->out, tok, o->force);
	case FMT_HF_DIR: return hf_dir_export(m, tok, o->out, o->force);
	case FMT_LLMC: return llmc_save(m, o->out, o->dt, o->force);
	case FMT_GGUF: return gguf_save(m, tok, o->out, o->dt, o->force);
	default: return lm_fail("'%s': no writer for %s", o->out, ckpt_format_name(fmt));
	}
}

static int convert_model(const struct options *o, ckpt_format fmt)
{
	if (o->dt != DT_F32 && (fmt == FMT_SAFETENSORS || fmt == FMT_HF_DIR))
		return lm_fail("'%s': %s is written in f32 only, not %s", o->out,
			       ckpt_format_name(fmt), ckpt_dtype_name(o->dt));
	gpt_model m;
	if (ckpt_open_model(&m, o->in) != 0)
		return -1;
	lm_tokenizer t;
	int have = open_tokenizer(&t, o, &m), rc = -1;
	if (have < 0)
		goto out;
	if (have == 0 && fmt != FMT_LLMC && fmt != FMT_GGUF)
		lm_warn("writing no tokenizer: %s", lm_last_error());
	rc = write_model(o, fmt, &m, have ? &t.m : NULL);
	if (have)
		lm_tokenizer_close(&t);
out:
	gpt_free(&m);
	return rc;
}

int main(int argc, char **argv)
{
	lm_set_progname(argv[0]);
	struct options o;
	int status = parse_options(argc, argv, &o);
	if (status != CLI_RUN)
		return status;
	ckpt_format fmt = ckpt_format_for_output(o.out);
	if (!o.force && access(o.out, F_OK) == 0)
		lm_die("'%s' exists (give -f to replace it)", o.out);
	int rc = fmt == FMT_LLMC_TOKENIZER ? convert_tokenizer(&o) : convert_model(&o, fmt);
	if (rc != 0)
		lm_die_last();
	return 0;
}
