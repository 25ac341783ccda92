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

/* The dtypes of the format (as of safetensors 0.4), with their sizes: the
 * reader checks each entry's bytes against its shape, and reads the float
 * ones. A dtype newer than this list (sub-byte ones among them) is taken on
 * its offsets alone: the layout check needs no size, and st_read refuses
 * to read it. */
static const struct {
	const char *name;
	int size;
} dtypes[] = {
	{"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1},
	{"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
	{"I32", 4}, {"U32", 4}, {"F32", 4}, {"I64", 8}, {"U64", 8}, {"F64", 8},
};

/* Bytes an element of DTYPE takes; 0 for a name not in the list. */
static int dtype_bytes(const char *dtype)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
		if (strcmp(dtype, dtypes[i].name) == 0)
			return dtypes[i].size;
	return 0;
}

/* The size of an element of DTYPE when we read it as floats; 0 otherwise. */
static int dtype_size(const char *dtype)
{
	if (strcmp(dtype, "F32") == 0 || strcmp(dtype, "F16") == 0 || strcmp(dtype, "BF16") == 0)
		return dtype_bytes(dtype);
	return 0;
}

/* One tensor's place in the data section, for the layout check. */
typedef struct {
	const char *name;
	uint64_t begin, end;
} st_extent;

/* Check one tensor entry against the data size; *x gets its extent. */
static int check_entry(const st_file *f, const char *name, json_t *e, uint64_t data_size,
		       st_extent *x)
{
	json_t *dtype = json_object_get(e, "dtype"), *shape = json_object_get(e, "shape");
	json_t *offs = json_object_get(e, "data_offsets");
	if (!json_is_object(e) || !json_is_string(dtype) || !json_is_array(shape) ||
	    !json_is_array(offs) || json_array_size(offs) != 2 ||
	    json_array_size(shape) > ST_MAX_DIMS)
		return lm_fail("'%s': tensor '%s': malformed header entry", f->path, name);
	int size = dtype_bytes(json_string_value(dtype));
	uint64_t numel = 1;
	for (size_t d = 0; d < json_array_size(shape); d++) {
		json_t *v = json_array_get(shape, d);
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    __builtin_mul_overflow(numel, (uint64_t)json_integer_value(v), &numel))
			return lm_fail("'%s': tensor '%s': bad shape", f->path, name);
	}
	json_t *b = json_array_get(offs, 0), *e2 = json_array_get(offs, 1);
	if (!json_is_integer(b) || !json_is_integer(e2) || json_integer_value(b) < 0 ||
	    json_integer_value(e2) < json_integer_value(b))
		return lm_fail("'%s': tensor '%s': bad data_offsets", f->path, name);
	uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(e2);
	if (end > data_size)
		return lm_fail("'%s': tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] beyond "
			       "the end of the file (truncated?)", f->path, name, begin, end);
	uint64_t bytes;
	if (size && (__builtin_mul_overflow(numel, (uint64_t)size, &bytes) || end - begin != bytes))
		return lm_fail("'%s': tensor '%s': %" PRIu64 " bytes for %" PRIu64 " elements of %s",
			       f->path, name, end - begin, numel, json_string_value(dtype));
	*x = (st_extent){name, begin, end};
	return 0;
}

static int by_offsets(const void *a, const void *b)
{
	const st_extent *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* The tensors must tile the data section, as the safetensors library
 * requires: in order of their offsets, each begins where the previous one
 * ends, the first at 0, the last at the end of the file. No overlap (two
 * names for the same bytes), no gap, nothing after. */
static int check_layout(const st_file *f, st_extent *x, int n, uint64_t data_size)
{
	qsort(x, (size_t)n, sizeof *x, by_offsets);
	uint64_t at = 0;
	for (int i = 0; i < n; i++) {
		if (x[i].begin < at)
			return lm_fail("'%s': tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] "
				       "overlap tensor '%s'", f->path, x[i].name, x[i].begin,
				       x[i].end, x[i - 1].name);
		if (x[i].begin > at)
			return lm_fail("'%s': tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] "
				       "leave bytes [%" PRIu64 ", %" PRIu64 ") of the data unused",
				       f->path, x[i].name, x[i].begin, x[i].end, at, x[i].begin);
		at = x[i].end;
	}
	if (at != data_size)
		return lm_fail("'%s': %" PRIu64 " bytes after the last tensor's data", f->path,
			       data_size - at);
	return 0;
}

/* The header: JSON and nothing else but the format's padding (whitespace,
 * which the safetensors library's JSON parser skips too); a NUL or any
 * other byte after the object is an error. */
static int parse_header(st_file *f, const char *text, size_t len, uint64_t data_size)
{
	json_error_t jerr;
	f->root = json_loadb(text, len, 0, &jerr);
	if (!f->root || !json_is_object(f->root))
		return lm_fail("'%s': not a safetensors file (invalid JSON header: %s)", f->path,
			       f->root ? "not an object" : jerr.text);
	size_t n = json_object_size(f->root);
	f->names = calloc(n + 1, sizeof *f->names);
	st_extent *x = calloc(n + 1, sizeof *x);
	if (!f->names || !x) {
		free(x);
		return lm_fail("out of memory");
	}
	const char *key;
	json_t *val;
	int rc = 0;
	json_object_foreach(f->root, key, val) {
		if (strcmp(key, "__metadata__") == 0) {
			const char *k2;
			json_t *v2;
			if (!json_is_object(val)) {
				rc = lm_fail("'%s': __metadata__ is not an object", f->path);
				break;
			}
			json_object_foreach(val, k2, v2)
				if (!json_is_string(v2) && rc == 0)
					rc = lm_fail("'%s': __metadata__ '%s' is not a string",
						     f->path, k2);
			if (rc != 0)
				break;
			continue;
		}
		if (check_entry(f, key, val, data_size, &x[f->count]) != 0) {
			rc = -1;
			break;
		}
		f->names[f->count++] = key;
	}
	if (rc == 0)
		rc = check_layout(f, x, f->count, data_size);
	free(x);
	return rc;
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
	if (parse_header(f, text, (size_t)n, (uint64_t)st.st_size - f->data_start) != 0)
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
