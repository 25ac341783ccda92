/*
 * lm-stat — resource accounting of a GPT: parameters, FLOPs, memory, time.
 *
 *   lm-stat --flops MODEL [model flags] [--batch B] [--gpu-mem SIZE]
 *           [--tokens N | --steps N] [--mfu F] [--peak h100|a100|FLOPS] [--json]
 *   lm-stat [--json] LOG...                  summarize training runs
 *   lm-stat --plot -o FILE.svg LOG...         draw their loss and lr curves
 *
 * MODEL is a preset (gpt2, gpt2-xl, d12, cs336-ts, ...), a config JSON, a
 * transformers model directory or an lmpipe checkpoint. The counting lives
 * in share/model/accounting.c; this file only reads flags and prints.
 */
#include "ckpt/ckpt.h"
#include "model/accounting.h"
#include "model/config_flags.h"
#include "plot/svg_plot.h"
#include "train/log.h"
#include "train/run_summary.h"
#include "util/cli.h"
#include "util/error.h"
#include "util/io.h"
#include "util/num.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Dense bf16 tensor-core peaks (NVIDIA datasheets, SXM parts). */
#define PEAK_H100 989e12
#define PEAK_H200 989e12
#define PEAK_A100 312e12
#define DEFAULT_GPU_MEM 80e9
#define DEFAULT_MFU 0.5

enum { OPT_FLOPS = OPT_TOOL_BASE, OPT_BATCH, OPT_GPU_MEM, OPT_TOKENS, OPT_STEPS,
       OPT_MFU, OPT_PEAK, OPT_JSON, OPT_PLOT };

struct options {
	const char *model;
	config_flags flags;
	long batch;            /* sequences per step */
	double gpu_mem;        /* bytes */
	double tokens;         /* to train, 0 = not asked */
	double steps;          /* to train, 0 = not asked */
	double mfu;
	double peak;           /* FLOP/s */
	const char *peak_name;
	int json;
	int plot;
	const char *output;    /* -o, the plot file */
	char **logs;           /* training logs to summarize or plot */
	int n_logs;
};

/* What lm-stat prints, computed once for both output forms. */
typedef struct {
	lm_config cfg;
	lm_accounting acc;
	double step_tokens, train_flops_step, adamw_flops_step;
	double max_batch;                     /* a whole number, 0 when none fits */
	double train_tokens, train_seconds;   /* 0 when no --tokens/--steps */
} stat_report;

static void usage(void)
{
	printf("usage: lm-stat --flops MODEL [options]\n"
	       "       lm-stat [--json] LOG...\n"
	       "       lm-stat --plot -o FILE.svg|FILE.png LOG...\n"
	       "\n"
	       "Parameters, forward/training FLOPs, AdamW memory and training time of a GPT;\n"
	       "summaries of training runs (lm-train's log.jsonl: best and last val loss,\n"
	       "tokens, tok/s, MFU); their loss and learning-rate curves, overlaid, as SVG or PNG.\n"
	       "MODEL: a preset (gpt2, gpt2-medium, gpt2-large, gpt2-xl, dN, cs336-ts),\n"
	       "a config .json, a transformers model directory or a checkpoint.\n"
	       "\n"
	       "  -F, --flops MODEL        the model to account for\n"
	       "      --batch B            sequences of ctx tokens per step (default 1)\n"
	       "      --gpu-mem SIZE       memory for the largest batch (default 80GB; 80GiB, 40G)\n"
	       "      --tokens N           time to train N tokens (10B, 4e9, ...)\n"
	       "      --steps N            time to train N steps of --batch sequences\n"
	       "      --mfu F              model FLOPs utilization, 0.5 or 50%% (default 0.5)\n"
	       "      --peak P             h100 (989T), h200 (989T), a100 (312T), or FLOP/s (19.5T)\n"
	       "      --json               JSON on stdout instead of tables\n"
	       "      --plot               draw the LOGs' curves (needs -o FILE.svg)\n"
	       "  -o, --output FILE        where --plot writes (.svg, or .png)\n"
	       "%s"
	       "\n"
	       "  -h, --help               this help\n"
	       "      --version            the version and the features of this build\n",
	       CONFIG_FLAGS_HELP);
}

/* ---- options ------------------------------------------------------------ */

/* 0 with *mfu set, or the usage error's exit status. */
static int parse_mfu(const char *arg, double *mfu)
{
	char buf[64];
	size_t n = strlen(arg);
	double v;
	bool percent = n > 0 && n < sizeof buf && arg[n - 1] == '%';
	if (percent) {
		memcpy(buf, arg, n - 1);
		buf[n - 1] = '\0';
	}
	int rc = cli_arg_real("--mfu", percent ? buf : arg, &v);
	if (rc != 0)
		return rc;
	if (percent)
		v /= 100.0;
	if (!(v > 0 && v <= 1))
		return cli_usage_error("--mfu: '%s' must be in (0, 1] (or a percentage)", arg);
	*mfu = v;
	return 0;
}

/* 0, or the usage error's exit status. */
static int parse_peak(struct options *o, const char *arg)
{
	static const struct { const char *name; double flops; } gpus[] = {
		{"h100", PEAK_H100}, {"h200", PEAK_H200}, {"a100", PEAK_A100},
	};
	for (size_t i = 0; i < sizeof gpus / sizeof gpus[0]; i++)
		if (strcmp(arg, gpus[i].name) == 0) {
			o->peak = gpus[i].flops;
			o->peak_name = gpus[i].name;
			return 0;
		}
	o->peak_name = NULL;
	return cli_arg_positive_real("--peak", arg, &o->peak);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"flops", required_argument, NULL, 'F'},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"gpu-mem", required_argument, NULL, OPT_GPU_MEM},
		{"tokens", required_argument, NULL, OPT_TOKENS},
		{"steps", required_argument, NULL, OPT_STEPS},
		{"mfu", required_argument, NULL, OPT_MFU},
		{"peak", required_argument, NULL, OPT_PEAK},
		{"json", no_argument, NULL, OPT_JSON},
		{"plot", no_argument, NULL, OPT_PLOT},
		{"output", required_argument, NULL, 'o'},
		CONFIG_LONG_OPTIONS,
		CLI_COMMON_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	*o = (struct options){.batch = 1, .gpu_mem = DEFAULT_GPU_MEM, .mfu = DEFAULT_MFU,
			    .peak = PEAK_H100, .peak_name = "h100"};
	int opt, rc = 0;
	int batch;
	uint64_t count;
	while (rc == 0 && (opt = cli_getopt(argc, argv, "F:o:h", longopts)) != -1) {
		if ((rc = config_flags_arg(&o->flags, opt, optarg)) != CONFIG_FLAGS_OTHER)
			continue;
		rc = 0;
		switch (opt) {
		case 'F': o->model = optarg; break;
		case OPT_BATCH:
			if ((rc = cli_arg_int("--batch", optarg, 1, 1 << 30, &batch)) == 0)
				o->batch = batch;
			break;
		case OPT_GPU_MEM: rc = cli_arg_bytes("--gpu-mem", optarg, &o->gpu_mem); break;
		case OPT_TOKENS:
			if ((rc = cli_arg_count("--tokens", optarg, &count)) == 0)
				o->tokens = (double)count;
			break;
		case OPT_STEPS:
			if ((rc = cli_arg_count("--steps", optarg, &count)) == 0)
				o->steps = (double)count;
			break;
		case OPT_MFU: rc = parse_mfu(optarg, &o->mfu); break;
		case OPT_PEAK: rc = parse_peak(o, optarg); break;
		case OPT_JSON: o->json = 1; break;
		case OPT_PLOT: o->plot = 1; break;
		case 'o': o->output = optarg; break;
		default: return cli_common_option(opt, usage);
		}
	}
	if (rc != 0)
		return rc;
	o->logs = argv + optind;
	o->n_logs = argc - optind;
	if (o->model && o->n_logs > 0)
		return cli_usage_error("--flops takes a model, not logs ('%s')", o->logs[0]);
	if (!o->model && o->n_logs == 0)
		return cli_usage_error("nothing to do: give --flops MODEL, or training logs");
	if (o->plot && !o->output)
		return cli_usage_error("--plot needs -o FILE.svg");
	if (o->output && !o->plot)
		return cli_usage_error("-o is for --plot");
	if (o->tokens > 0 && o->steps > 0)
		return cli_usage_error("--tokens and --steps are exclusive");
	return CLI_RUN;
}

/* ---- computing -------------------------------------------------------------- */

static void compute_report(const struct options *o, stat_report *r)
{
	if (ckpt_load_config(&r->cfg, o->model) != 0 || config_flags_apply(&o->flags, &r->cfg) != 0)
		lm_die_last();
	const lm_config *c = &r->cfg;
	accounting_compute(c, c->ctx, &r->acc);
	r->step_tokens = (double)o->batch * c->ctx;
	r->train_flops_step = accounting_train_flops_per_token(&r->acc) * r->step_tokens;
	r->adamw_flops_step = accounting_adamw_flops(&r->acc);
	r->max_batch = accounting_max_batch(&r->acc, o->gpu_mem);
	double steps = o->steps > 0 ? o->steps : o->tokens / r->step_tokens;
	if (o->steps > 0 || o->tokens > 0) {
		r->train_tokens = steps * r->step_tokens;
		double flops = steps * (r->train_flops_step + r->adamw_flops_step);
		r->train_seconds = flops / (o->mfu * o->peak);
	}
}

/* ---- the text report ---------------------------------------------------- */

static double percent(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : 0;
}

static void print_count_row(const char *label, uint64_t v, uint64_t total)
{
	char buf[32];
	printf("  %-34s %22s  %5.1f%%\n", label, num_commas(v, buf), percent((double)v, (double)total));
}

static void print_flops_row(const char *label, double v, double total)
{
	char buf[32], si[32];
	printf("  %-34s %22s  %5.1f%%  %s\n", label, num_commas_real(v, buf),
	       percent(v, total), num_si(v, "FLOP", si));
}

static void print_model_line(const lm_config *c)
{
	printf("model %s: %s family, L=%d C=%d NH=%d d_ff=%d V=%d T=%d\n", c->name,
	       config_family_name(c->family), c->n_layer, c->d_model, c->n_head, c->d_ff,
	       c->vocab_size, c->ctx);
	printf("  norm %s (%s), positions %s, mlp %s, %s, %s head\n\n", config_norm_name(c->norm),
	       config_norm_kind_name(c->norm_kind), config_positions_name(c->pos),
	       config_mlp_name(c->mlp), c->bias ? "biases" : "no biases",
	       c->tied_head ? "tied" : "untied");
}

static void print_parameters(const lm_accounting *a)
{
	uint64_t t = a->p_total;
	printf("parameters %47s\n", "share");
	print_count_row("token embedding", a->p_token_embedding, t);
	print_count_row("position embedding", a->p_position_embedding, t);
	print_count_row("attention (QKV, output)", a->p_attention, t);
	print_count_row("mlp", a->p_mlp, t);
	print_count_row("norms", a->p_norms, t);
	print_count_row(a->p_lm_head ? "lm head" : "lm head (tied to the embedding)",
			a->p_lm_head, t);
	print_count_row("total", t, t);
	putchar('\n');
}

static void print_flops(const lm_accounting *a)
{
	double t = a->f_total;
	printf("forward matmul FLOPs, one sequence of %d tokens (2mnp a product)\n", a->T);
	print_flops_row("attention projections (QKV, out)", a->f_attention_proj, t);
	print_flops_row("attention scores (Q K^T)", a->f_attention_scores, t);
	print_flops_row("attention weighted sum (A V)", a->f_attention_values, t);
	print_flops_row("mlp", a->f_mlp, t);
	print_flops_row("lm head", a->f_lm_head, t);
	print_flops_row("total", t, t);
	putchar('\n');
}

static void print_training(const struct options *o, const stat_report *r)
{
	char a[32], b[32], c[32];
	printf("training\n");
	printf("  %-34s %s\n", "FLOPs per token (3 x forward)",
	       num_si(accounting_train_flops_per_token(&r->acc), "FLOP", a));
	printf("  %-34s %s  (%ld x %d tokens)\n", "FLOPs per step",
	       num_si(r->train_flops_step, "FLOP", b), o->batch, r->cfg.ctx);
	printf("  %-34s %s  (%d a parameter)\n\n", "AdamW update per step",
	       num_si(r->adamw_flops_step, "FLOP", c), ADAMW_FLOPS_PER_PARAM);
}

static void print_memory(const struct options *o, const stat_report *r)
{
	char a[32], b[32], c[32], mem[32], batch[32], label[64];
	double one = FP32_BYTES * (double)r->acc.p_total;
	printf("memory, fp32 AdamW\n");
	printf("  %-34s %s each\n", "parameters, gradients, m, v", num_bytes(one, a));
	printf("  %-34s %s\n", "training state", num_bytes(r->acc.state_bytes, b));
	printf("  %-34s %s per batch element (T=%d)\n", "activations",
	       num_bytes(r->acc.activation_bytes, c), r->cfg.ctx);
	snprintf(label, sizeof label, "largest batch in %s", num_bytes(o->gpu_mem, mem));
	if (r->max_batch > 0)
		printf("  %-34s %s\n\n", label, num_commas_real(r->max_batch, batch));
	else
		printf("  %-34s none: does not fit\n\n", label);
}

static void print_time(const struct options *o, const stat_report *r)
{
	char steps[32], tok[32], dur[32], peak[32];
	double n_steps = r->train_tokens / r->step_tokens;
	num_si(o->peak, "FLOP/s", peak);
	printf("time to train %s steps (%s tokens) at %.0f%% MFU of %s%s%s%s: %s\n",
	       num_commas_real(floor(n_steps + 0.5), steps), num_si(r->train_tokens, "", tok),
	       100 * o->mfu, peak, o->peak_name ? " (" : "", o->peak_name ? o->peak_name : "",
	       o->peak_name ? ")" : "", num_duration(r->train_seconds, dur));
}

static void print_text(const struct options *o, const stat_report *r)
{
	print_model_line(&r->cfg);
	print_parameters(&r->acc);
	print_flops(&r->acc);
	print_training(o, r);
	print_memory(o, r);
	if (r->train_seconds > 0)
		print_time(o, r);
}

/* ---- the JSON report ------------------------------------------------------ */

static json_t *json_parameters(const lm_accounting *a)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "token_embedding", (json_int_t)a->p_token_embedding,
			 "position_embedding", (json_int_t)a->p_position_embedding,
			 "attention", (json_int_t)a->p_attention, "mlp", (json_int_t)a->p_mlp,
			 "norms", (json_int_t)a->p_norms, "lm_head", (json_int_t)a->p_lm_head,
			 "total", (json_int_t)a->p_total);
}

static json_t *json_forward_flops(const lm_accounting *a)
{
	return json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f}", "tokens", a->T,
			 "attention_projections", a->f_attention_proj,
			 "attention_scores", a->f_attention_scores,
			 "attention_values", a->f_attention_values, "mlp", a->f_mlp,
			 "lm_head", a->f_lm_head, "total", a->f_total);
}

/* A whole number: an integer while a double holds it exactly, else a real. */
static json_t *json_whole(double v)
{
	return v <= NUM_EXACT_MAX ? json_integer((json_int_t)v) : json_real(v);
}

static void print_json(const struct options *o, const stat_report *r)
{
	char *cfg_text = config_to_json(&r->cfg);
	json_t *cfg = json_loads(cfg_text, 0, NULL);
	free(cfg_text);
	json_t *root = json_pack(
		"{s:o, s:o, s:o, s:{s:f, s:f, s:f, s:I}, s:{s:f, s:f, s:f, s:f, s:o}}",
		"config", cfg, "parameters", json_parameters(&r->acc),
		"forward_flops", json_forward_flops(&r->acc),
		"training", "flops_per_token", accounting_train_flops_per_token(&r->acc),
		"flops_per_step", r->train_flops_step, "adamw_flops_per_step", r->adamw_flops_step,
		"batch", (json_int_t)o->batch,
		"memory", "state_bytes", r->acc.state_bytes,
		"activation_bytes_per_batch_element", r->acc.activation_bytes,
		"gpu_mem_bytes", o->gpu_mem,
		"parameter_bytes", FP32_BYTES * (double)r->acc.p_total,
		"max_batch", json_whole(r->max_batch));
	if (r->train_seconds > 0)
		json_object_set_new(root, "time", json_pack("{s:f, s:f, s:f, s:f}",
			"tokens", r->train_tokens, "mfu", o->mfu, "peak_flops", o->peak,
			"seconds", r->train_seconds));
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
	putchar('\n');
	json_decref(root);
}

/* ---- training logs: summaries --------------------------------------------- */

/* A run's display name: its run line's name, else its directory's. */
static const char *run_label(const run_log *run)
{
	if (strcmp(run->name, "log.jsonl") != 0)
		return run->name;
	const char *end = strrchr(run->path, '/');
	if (!end)
		return run->path;
	const char *start = end;
	while (start > run->path && start[-1] != '/')
		start--;
	static char buf[256];
	snprintf(buf, sizeof buf, "%.*s", (int)(end - start), start);
	return buf[0] ? buf : run->path;
}

static void read_logs(const struct options *o, run_log *runs)
{
	for (int i = 0; i < o->n_logs; i++) {
		if (run_log_read(&runs[i], o->logs[i]) != 0)
			lm_die_last();
		if (runs[i].torn_line)
			lm_warn("'%s' line %ld: torn (a crash mid-write): left out", o->logs[i],
				runs[i].torn_line);
	}
}

static void format_or_dash(char *buf, const char *fmt, double v)
{
	if (isnan(v))
		snprintf(buf, 32, "-");
	else
		snprintf(buf, 32, fmt, v);
}

static void print_summary_row(const run_log *run, const run_summary *s)
{
	char tok[32], last[32], best[32], lastval[32], hs[32], tps[32], mfu[32];
	num_si(s->tokens, "", tok);
	format_or_dash(last, "%.4f", s->last_loss);
	format_or_dash(best, "%.4f", s->best_val_loss);
	if (!isnan(s->best_val_loss)) {
		size_t n = strlen(best);
		snprintf(best + n, sizeof best - n, " (%ld)", s->best_val_step);
	}
	format_or_dash(lastval, "%.4f", s->last_val_loss);
	format_or_dash(hs, "%.4f", s->hellaswag);
	if (isnan(s->tok_s))
		snprintf(tps, sizeof tps, "-");
	else
		num_si(s->tok_s, "", tps);
	format_or_dash(mfu, "%.1f%%", 100 * s->mfu);
	printf("%-20s %8ld %10s %10s %16s %9s %9s %10s %6s\n", run_label(run), s->steps, tok,
	       last, best, lastval, hs, tps, mfu);
}

static json_t *json_number_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *summary_json(const run_log *run, const run_summary *s)
{
	return json_pack("{s:s, s:s, s:I, s:f, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:f}",
			 "run", run_label(run), "log", run->path, "steps", (json_int_t)s->steps,
			 "tokens", s->tokens, "last_loss", json_number_or_null(s->last_loss),
			 "best_val_loss", json_number_or_null(s->best_val_loss),
			 "best_val_step", (json_int_t)s->best_val_step,
			 "last_val_loss", json_number_or_null(s->last_val_loss),
			 "hellaswag", json_number_or_null(s->hellaswag),
			 "tok_s", json_number_or_null(s->tok_s), "mfu", json_number_or_null(s->mfu),
			 "hours", s->hours);
}

static void summarize_logs(const struct options *o, run_log *runs)
{
	json_t *all = json_array();
	if (!o->json)
		printf("%-20s %8s %10s %10s %16s %9s %9s %10s %6s\n", "run", "steps", "tokens",
		       "train loss", "best val (step)", "last val", "hellaswag", "tok/s", "MFU");
	for (int i = 0; i < o->n_logs; i++) {
		run_summary s;
		run_summary_compute(&runs[i], &s);
		if (o->json)
			json_array_append_new(all, summary_json(&runs[i], &s));
		else
			print_summary_row(&runs[i], &s);
	}
	if (o->json) {
		json_dumpf(all, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
		putchar('\n');
	}
	json_decref(all);
}

/* ---- training logs: curves ---------------------------------------------------- */

/* The columns of one run that the plot draws. */
typedef struct {
	double *x, *loss, *val, *lr;
	size_t n;
} run_curves;

static void extract_curves(const run_log *run, run_curves *c)
{
	size_t n = run->n_records;
	c->x = calloc(n + 1, sizeof *c->x);
	c->loss = calloc(n + 1, sizeof *c->loss);
	c->val = calloc(n + 1, sizeof *c->val);
	c->lr = calloc(n + 1, sizeof *c->lr);
	if (!c->x || !c->loss || !c->val || !c->lr)
		lm_die("out of memory");
	c->n = n;
	for (size_t i = 0; i < n; i++) {
		const log_record *r = &run->records[i];
		c->x[i] = isnan(r->tokens) ? (double)r->step : r->tokens;
		c->loss[i] = r->loss;
		c->val[i] = r->val_loss;
		c->lr[i] = r->lr;
	}
}

/* Keep only the points where y is present (y compacted in place, x into a
 * new array), so a train line runs on across the eval records between. */
static size_t compact_points(double *x, double *y, size_t n, double **xo)
{
	size_t k = 0;
	double *out = malloc((n + 1) * sizeof *out);
	if (!out)
		lm_die("out of memory");
	for (size_t i = 0; i < n; i++)
		if (!isnan(y[i])) {
			out[k] = x[i];
			y[k++] = y[i];
		}
	*xo = out;
	return k;
}

static void plot_logs(const struct options *o, run_log *runs)
{
	int n = o->n_logs;
	run_curves *curves = calloc((size_t)n, sizeof *curves);
	plot_series *loss = calloc(2 * (size_t)n, sizeof *loss), *lr = calloc((size_t)n, sizeof *lr);
	double **xs = calloc(3 * (size_t)n, sizeof *xs);   /* loss, val, lr x columns */
	char (*labels)[300] = calloc(2 * (size_t)n, sizeof *labels);
	if (!curves || !loss || !lr || !xs || !labels)
		lm_die("out of memory");
	for (int i = 0; i < n; i++) {
		run_curves *c = &curves[i];
		extract_curves(&runs[i], c);
		snprintf(labels[2 * i], sizeof labels[0], "%s train", run_label(&runs[i]));
		snprintf(labels[2 * i + 1], sizeof labels[0], "%s val", run_label(&runs[i]));
		double **x = &xs[3 * i];
		size_t n_loss = compact_points(c->x, c->loss, c->n, &x[0]);
		size_t n_val = compact_points(c->x, c->val, c->n, &x[1]);
		size_t n_lr = compact_points(c->x, c->lr, c->n, &x[2]);
		loss[2 * i] = (plot_series){x[0], c->loss, n_loss, i, labels[2 * i], false, 1.0};
		loss[2 * i + 1] = (plot_series){x[1], c->val, n_val, i, labels[2 * i + 1], true, 2.5};
		lr[i] = (plot_series){x[2], c->lr, n_lr, i, NULL, false, 1.5};
	}
	plot_panel panels[2] = {
		{"loss", "loss (nats/token)", false, loss, 2 * (size_t)n},
		{"learning rate", "lr", false, lr, (size_t)n},
	};
	plot_figure fig = {"tokens", panels, 2};
	if (svg_plot_write(&fig, o->output) != 0)
		lm_die_last();
	for (int i = 0; i < n; i++) {
		free(curves[i].x); free(curves[i].loss); free(curves[i].val); free(curves[i].lr);
	}
	for (int i = 0; i < 3 * n; i++)
		free(xs[i]);
	free(curves); free(loss); free(lr); free(xs); free(labels);
}

/* ---- main ------------------------------------------------------------------------ */

static void account_model(const struct options *o)
{
	stat_report r = {0};  /* train_* stay 0 without --tokens/--steps */
	compute_report(o, &r);
	if (o->json)
		print_json(o, &r);
	else
		print_text(o, &r);
}

int main(int argc, char **argv)
{
	lm_set_progname(argv[0]);
	struct options o;
	int status = parse_options(argc, argv, &o);
	if (status != CLI_RUN)
		return status;
	if (o.model) {
		account_model(&o);
	} else {
		run_log *runs = calloc((size_t)o.n_logs, sizeof *runs);
		if (!runs)
			lm_die("out of memory");
		read_logs(&o, runs);
		if (o.plot)
			plot_logs(&o, runs);
		else
			summarize_logs(&o, runs);
		for (int i = 0; i < o.n_logs; i++)
			run_log_free(&runs[i]);
		free(runs);
	}
	if (stdout_close_checked() != 0)
		lm_die_last();
	return 0;
}
