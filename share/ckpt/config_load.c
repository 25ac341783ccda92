/*
 * config_load.c — a model's config from what names it: a preset, a JSON
 * config, or any checkpoint we read (ours, a transformers directory, llm.c's
 * .bin, GGUF). Here, not in model/config.c, so the model does not depend
 * on the checkpoint formats (which depend on the model).
 */
#include "ckpt/ckpt.h"
#include "ckpt/format.h"
#include "ckpt/gguf.h"
#include "ckpt/llmc.h"
#include "ckpt/safetensors.h"
#include "util/error.h"
#include "util/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A safetensors checkpoint: ours stores the config as the "config" value of
 * the header's "__metadata__". The header is read and checked whole by the
 * safetensors reader, so a broken file says what is broken. 1 when the
 * file has no config in its metadata (an error only if REQUIRED), 0 when
 * read, -1 on an error. */
static int config_from_safetensors(lm_config *c, const char *path, bool required)
{
	st_file *f = st_open(path);
	if (!f)
		return -1;
	const char *cfg = st_metadata(f, "config");
	int rc = cfg ? config_from_json(c, cfg, path)
	     : !required ? 1
		     : lm_fail("'%s': no model config in the checkpoint's metadata (a transformers "
			       "checkpoint: pass its directory, which holds config.json)", path);
	st_close(f);
	return rc;
}

static int config_from_json_file(lm_config *c, const char *path)
{
	char *text = read_whole_file(path, NULL);
	if (!text)
		return -1;
	int rc = config_from_json(c, text, path);
	free(text);
	return rc;
}

/* A name that can only be a file or a directory: no preset has a '/' or
 * a checkpoint's or a config's ending. */
static int names_a_file(const char *model)
{
	static const char *const endings[] = {".safetensors", ".json", ".bin", ".gguf"};
	size_t n = strlen(model);
	if (strchr(model, '/'))
		return 1;
	for (size_t i = 0; i < sizeof endings / sizeof endings[0]; i++) {
		size_t e = strlen(endings[i]);
		if (n > e && strcmp(model + n - e, endings[i]) == 0)
			return 1;
	}
	return 0;
}

/* A directory: our config in model.safetensors' metadata (exact, ablations
 * included: a run directory), else transformers' config.json. */
static int config_from_dir(lm_config *c, const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	if (access(path, R_OK) == 0) {
		int rc = config_from_safetensors(c, path, false);
		if (rc <= 0)
			return rc;
	}
	snprintf(path, sizeof path, "%s/config.json", dir);
	return config_from_json_file(c, path);
}

int ckpt_load_config(lm_config *c, const char *model)
{
	struct stat st;
	ckpt_format fmt;
	if (stat(model, &st) != 0)
		return names_a_file(model) ? lm_fail_errno("cannot open '%s'", model)
					   : config_preset(c, model);
	if (ckpt_sniff(model, &fmt) != 0)
		return -1;
	switch (fmt) {
	case FMT_HF_DIR: return config_from_dir(c, model);
	case FMT_SAFETENSORS: return config_from_safetensors(c, model, true);
	case FMT_LLMC: return llmc_config(c, model);
	case FMT_GGUF: return gguf_config(c, model);
	case FMT_UNKNOWN: return config_from_json_file(c, model);
	default:
		return lm_fail("'%s': a file of format %s holds no model config we read", model,
			       ckpt_format_name(fmt));
	}
}
