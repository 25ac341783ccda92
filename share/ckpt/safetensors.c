/*
 * safetensors.c — the safetensors container, written with our atomic files
 * and parsed with jansson.
 */
#include "ckpt/safetensors.h"
#include "ckpt/half.h"
#include "util/error.h"
#include "util/io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u << 20)  /* the safetensors library's own limit */

/* ---- writing ----------------------------------------------------------- */

static size_t tensor_numel(const st_tensor *t)
{
	size_t n = 1;
	for (int d = 0; d < t->ndim; d++)
		n *= (size_t)t->shape[d];
	return n;
}

static char *header_json(const st_tensor *ts, int n, const char *const *meta, int nmeta)
{
	json_t *root = json_object();
	if (nmeta > 0) {
		json_t *m = json_object();
		for (int i = 0; i < nmeta; i++)
			json_object_set_new(m, meta[2 * i], json_string(meta[2 * i + 1]));
		json_object_set_new(root, "__metadata__", m);
	}
	uint64_t off = 0;
	for (int i = 0; i < n; i++) {
		json_t *shape = json_array();
		for (int d = 0; d < ts[i].ndim; d++)
			json_array_append_new(shape, json_integer(ts[i].shape[d]));
		uint64_t end = off + tensor_numel(&ts[i]) * sizeof(float);
		json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape,
				      "data_offsets", (json_int_t)off, (json_int_t)end);
		json_object_set_new(root, ts[i].name, e);
		off = end;
	}
	char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return s;
}

int st_write(const char *path, const st_tensor *tensors, int n, const char *const *meta,
	     int nmeta, bool overwrite)
{
	for (int i = 0; i < n; i++)
		if (tensors[i].ndim < 0 || tensors[i].ndim > ST_MAX_DIMS)
			return lm_fail("'%s': tensor '%s' has %d dimensions", path, tensors[i].name,
				       tensors[i].ndim);
	char *json = header_json(tensors, n, meta, nmeta);
	if (!json)
		return lm_fail("'%s': cannot build the safetensors header", path);
	size_t len = strlen(json), padded = (len + 7) & ~(size_t)7;
	unsigned char len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
	atomic_file af;
	if (atomic_file_open(&af, path, overwrite) != 0) {
		free(json);
		return -1;
	}
	fwrite(len8, 1, 8, af.fp);
	fwrite(json, 1, len, af.fp);
	for (size_t i = len; i < padded; i++)
		fputc(' ', af.fp);
	free(json);
	for (int i = 0; i < n; i++)
		fwrite(tensors[i].data, sizeof(float), tensor_numel(&tensors[i]), af.fp);
	return atomic_file_commit(&af);
}

/* ---- reading ------------------------------------------------------------- */

struct st_file {
	char *path;
	int fd;
	uint64_t data_start;  /* 8 + header length */
	json_t *root;
	const char **names;   /* tensor names, header order */
	int count;
};

const char *st_path(const st_file *f) { return f->path; }
int st_count(const st_file *f) { return f->count; }
const char *st_name(const st_file *f, int i) { return f->names[i]; }

static int dtype_size(const char *dtype)
{
	if (strcmp(dtype, "F32") == 0)
		return 4;
	if (strcmp(dtype, "F16") == 0 || strcmp(dtype, "BF16") == 0)
		return 2;
	return 0;
}

/* Check one tensor entry against the data size. */
static int check_entry(const st_file *f, const char *name, json_t *e, uint64_t data_size)
{
	json_t *dtype = json_object_get(e, "dtype"), *shape = json_object_get(e, "shape");
	json_t *offs = json_object_get(e, "data_offsets");
	if (!json_is_string(dtype) || !json_is_array(shape) || !json_is_array(offs) ||
	    json_array_size(offs) != 2 || json_array_size(shape) > ST_MAX_DIMS)
		return lm_fail("'%s': tensor '%s': malformed header entry", f->path, name);
	uint64_t numel = 1;
	for (size_t d = 0; d < json_array_size(shape); d++) {
		json_t *v = json_array_get(shape, d);
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (1LL << 40))
			return lm_fail("'%s': tensor '%s': bad shape", f->path, name);
		numel *= (uint64_t)json_integer_value(v);
	}
	json_t *b = json_array_get(offs, 0), *e2 = json_array_get(offs, 1);
	if (!json_is_integer(b) || !json_is_integer(e2) || json_integer_value(b) < 0 ||
	    json_integer_value(e2) < json_integer_value(b))
		return lm_fail("'%s': tensor '%s': bad data_offsets", f->path, name);
	uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(e2);
	if (end > data_size)
		return lm_fail("'%s': tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] beyond "
			       "the end of the file (truncated?)", f->path, name, begin, end);
	int size = dtype_size(json_string_value(dtype));
	if (size && end - begin != numel * (uint64_t)size)
		return lm_fail("'%s': tensor '%s': %" PRIu64 " bytes for %" PRIu64 " elements of %s",
			       f->path, name, end - begin, numel, json_string_value(dtype));
	return 0;
}

static int parse_header(st_file *f, const char *text, uint64_t data_size)
{
	json_error_t jerr;
	f->root = json_loads(text, 0, &jerr);
	if (!f->root || !json_is_object(f->root))
		return lm_fail("'%s': not a safetensors file (invalid JSON header: %s)", f->path,
			       f->root ? "not an object" : jerr.text);
	f->names = calloc(json_object_size(f->root) + 1, sizeof *f->names);
	if (!f->names)
		return lm_fail("out of memory");
	const char *key;
	json_t *val;
	json_object_foreach(f->root, key, val) {
		if (strcmp(key, "__metadata__") == 0) {
			const char *k2;
			json_t *v2;
			if (!json_is_object(val))
				return lm_fail("'%s': __metadata__ is not an object", f->path);
			json_object_foreach(val, k2, v2)
				if (!json_is_string(v2))
					return lm_fail("'%s': __metadata__ '%s' is not a string", f->path, k2);
			continue;
		}
		if (check_entry(f, key, val, data_size) != 0)
			return -1;
		f->names[f->count++] = key;
	}
	return 0;
}

st_file *st_open(const char *path)
{
	st_file *f = calloc(1, sizeof *f);
	char *text = NULL;
	if (!f || !(f->path = strdup(path))) {
		free(f);
		lm_fail("out of memory");
		return NULL;
	}
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		lm_fail_errno("cannot open '%s'", path);
		goto fail;
	}
	struct stat st;
	unsigned char len8[8];
	if (fstat(f->fd, &st) != 0 || read_full(f->fd, len8, 8, path) != 8) {
		lm_fail("'%s': not a safetensors file (shorter than its 8-byte header length)", path);
		goto fail;
	}
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = (n << 8) | len8[i];
	if (n < 2 || n > ST_MAX_HEADER || n > (uint64_t)st.st_size - 8) {
		lm_fail("'%s': not a safetensors file (header length %" PRIu64 " for a file of "
			"%lld bytes)", path, n, (long long)st.st_size);
		goto fail;
	}
	text = malloc(n + 1);
	if (!text || read_full(f->fd, text, n, path) != (long long)n) {
		lm_fail("'%s': truncated safetensors header", path);
		goto fail;
	}
	text[n] = '\0';
	f->data_start = 8 + n;
	if (parse_header(f, text, (uint64_t)st.st_size - f->data_start) != 0)
		goto fail;
	free(text);
	return f;
fail:
	free(text);
	st_close(f);
	return NULL;
}

void st_close(st_file *f)
{
	if (!f)
		return;
	if (f->fd > 0)
		close(f->fd);
	json_decref(f->root);
	free(f->names);
	free(f->path);
	free(f);
}

const char *st_metadata(const st_file *f, const char *key)
{
	json_t *v = json_object_get(json_object_get(f->root, "__metadata__"), key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int st_shape(const st_file *f, const char *name, int *ndim, int64_t shape[ST_MAX_DIMS])
{
	json_t *e = strcmp(name, "__metadata__") ? json_object_get(f->root, name) : NULL;
	if (!e)
		return 0;
	json_t *s = json_object_get(e, "shape");
	*ndim = (int)json_array_size(s);
	for (int d = 0; d < *ndim; d++)
		shape[d] = json_integer_value(json_array_get(s, d));
	return 1;
}

static void shape_string(char *buf, size_t size, int ndim, const int64_t *shape)
{
	size_t used = (size_t)snprintf(buf, size, "(");
	for (int d = 0; d < ndim && used < size; d++)
		used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, d ? ", " : "", shape[d]);
	if (used < size)
		snprintf(buf + used, size - used, ")");
}

int st_read(st_file *f, const char *name, int ndim, const int64_t *shape, float *out)
{
	int have_ndim;
	int64_t have[ST_MAX_DIMS];
	if (!st_shape(f, name, &have_ndim, have))
		return lm_fail("'%s': no tensor '%s'", f->path, name);
	bool same = have_ndim == ndim;
	for (int d = 0; same && d < ndim; d++)
		same = have[d] == shape[d];
	if (!same) {
		char want_s[128], have_s[128];
		shape_string(want_s, sizeof want_s, ndim, shape);
		shape_string(have_s, sizeof have_s, have_ndim, have);
		return lm_fail("'%s': tensor '%s' has shape %s, expected %s", f->path, name,
			       have_s, want_s);
	}
	json_t *e = json_object_get(f->root, name);
	const char *dtype = json_string_value(json_object_get(e, "dtype"));
	int size = dtype_size(dtype);
	if (!size)
		return lm_fail("'%s': tensor '%s' has dtype %s (F32, F16 or BF16 expected)",
			       f->path, name, dtype);
	json_t *offs = json_object_get(e, "data_offsets");
	uint64_t begin = (uint64_t)json_integer_value(json_array_get(offs, 0));
	uint64_t bytes = (uint64_t)json_integer_value(json_array_get(offs, 1)) - begin;
	uint64_t numel = bytes / (uint64_t)size;
	void *buf = size == 4 ? (void *)out : malloc(bytes ? bytes : 1);
	if (!buf)
		return lm_fail("out of memory reading '%s'", name);
	if (lseek(f->fd, (off_t)(f->data_start + begin), SEEK_SET) < 0 ||
	    read_full(f->fd, buf, bytes, f->path) != (long long)bytes) {
		if (buf != out)
			free(buf);
		return lm_fail("'%s': cannot read tensor '%s' (truncated file?)", f->path, name);
	}
	if (size == 2) {
		const uint16_t *h = buf;
		bool bf16 = strcmp(dtype, "BF16") == 0;
		for (uint64_t i = 0; i < numel; i++) {
			if (bf16) {
				out[i] = bf16_to_float(h[i]);
			} else {
				out[i] = half_to_float(h[i]);
			}
		}
		free(buf);
	}
	return 0;
}
