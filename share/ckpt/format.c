/*
 * format.c — telling formats apart (see format.h).
 */
#include "ckpt/format.h"
#include "ckpt/half.h"
#include "ckpt/llmc.h"
#include "util/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- element types ---------------------------------------------------------- */

int ckpt_parse_dtype(const char *s, ckpt_dtype *dt)
{
	if (!strcmp(s, "f32") || !strcmp(s, "float32") || !strcmp(s, "fp32"))
		*dt = DT_F32;
	else if (!strcmp(s, "f16") || !strcmp(s, "float16") || !strcmp(s, "fp16"))
		*dt = DT_F16;
	else if (!strcmp(s, "bf16") || !strcmp(s, "bfloat16"))
		*dt = DT_BF16;
	else
		return -1;
	return 0;
}

const char *ckpt_dtype_name(ckpt_dtype dt)
{
	return dt == DT_F32 ? "f32" : dt == DT_F16 ? "f16" : "bf16";
}

#define CHUNK 4096

int ckpt_write_floats(FILE *fp, const float *x, size_t n, ckpt_dtype dt)
{
	if (dt == DT_F32)
		return fwrite(x, sizeof(float), n, fp) == n ? 0 : -1;
	uint16_t buf[CHUNK];
	for (size_t i = 0; i < n; i += CHUNK) {
		size_t k = n - i < CHUNK ? n - i : CHUNK;
		for (size_t j = 0; j < k; j++)
			buf[j] = dt == DT_BF16 ? float_to_bf16(x[i + j]) : float_to_half(x[i + j]);
		if (fwrite(buf, 2, k, fp) != k)
			return -1;
	}
	return 0;
}

int ckpt_read_floats(FILE *fp, float *x, size_t n, ckpt_dtype dt)
{
	if (dt == DT_F32)
		return fread(x, sizeof(float), n, fp) == n ? 0 : -1;
	uint16_t buf[CHUNK];
	for (size_t i = 0; i < n; i += CHUNK) {
		size_t k = n - i < CHUNK ? n - i : CHUNK;
		if (fread(buf, 2, k, fp) != k)
			return -1;
		for (size_t j = 0; j < k; j++)
			x[i + j] = dt == DT_BF16 ? bf16_to_float(buf[j]) : half_to_float(buf[j]);
	}
	return 0;
}

/* ---- telling formats apart ------------------------------------------------------ */

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int ckpt_sniff(const char *path, ckpt_format *fmt)
{
	struct stat st;
	*fmt = FMT_UNKNOWN;
	if (stat(path, &st) != 0)
		return lm_fail_errno("cannot open '%s'", path);
	if (S_ISDIR(st.st_mode)) {
		*fmt = FMT_HF_DIR;
		return 0;
	}
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return lm_fail_errno("cannot open '%s'", path);
	unsigned char h[9];
	size_t n = fread(h, 1, sizeof h, fp);
	fclose(fp);
	if (n >= 4 && memcmp(h, "GGUF", 4) == 0)
		*fmt = FMT_GGUF;
	else if (n >= 4 && le32(h) == LLMC_MAGIC)
		*fmt = FMT_LLMC;
	else if (n >= 4 && le32(h) == LLMC_TOKENIZER_MAGIC)
		*fmt = FMT_LLMC_TOKENIZER;
	else if (n == 9 && h[8] == '{' && le32(h + 4) == 0 && le32(h) > 0)
		*fmt = FMT_SAFETENSORS;
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

ckpt_format ckpt_format_for_output(const char *path)
{
	if (ends_with(path, ".safetensors"))
		return FMT_SAFETENSORS;
	if (ends_with(path, ".gguf"))
		return FMT_GGUF;
	if (ends_with(path, "tokenizer.bin"))
		return FMT_LLMC_TOKENIZER;
	if (ends_with(path, ".bin"))
		return FMT_LLMC;
	return FMT_HF_DIR;
}

const char *ckpt_format_name(ckpt_format fmt)
{
	switch (fmt) {
	case FMT_SAFETENSORS: return "safetensors";
	case FMT_HF_DIR: return "transformers directory";
	case FMT_LLMC: return "llm.c model";
	case FMT_LLMC_TOKENIZER: return "llm.c tokenizer";
	case FMT_GGUF: return "GGUF";
	default: return "unknown";
	}
}

bool ckpt_has_weights(const char *path)
{
	ckpt_format fmt;
	if (access(path, F_OK) != 0 || ckpt_sniff(path, &fmt) != 0)
		return false;
	if (fmt == FMT_HF_DIR) {
		char file[4096];
		snprintf(file, sizeof file, "%s/model.safetensors", path);
		return access(file, R_OK) == 0;
	}
	return fmt == FMT_SAFETENSORS || fmt == FMT_LLMC || fmt == FMT_GGUF;
}
