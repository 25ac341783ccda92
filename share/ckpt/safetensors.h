/*
 * safetensors.h — read and write safetensors files (the format of HF's
 * safetensors library): an 8-byte little-endian header length N, N bytes of
 * JSON (padded with spaces to a multiple of 8), then the raw tensor bytes.
 * The JSON maps each tensor name to {"dtype", "shape", "data_offsets":
 * [begin, end]} (offsets into the data that follows the header), and the
 * optional "__metadata__" to an object of string values.
 *
 * We write F32 only; we read F32, F16 and BF16 (converted to float).
 * The reader checks the whole header against the file size before trusting
 * it, by the safetensors library's rules: JSON and padding whitespace only,
 * and tensors that tile the data section exactly (no overlap, no gap,
 * nothing after the last). Every error names the file (and the tensor).
 */
#ifndef LMPIPE_SAFETENSORS_H
#define LMPIPE_SAFETENSORS_H

#include <stdbool.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

/* One tensor to write: row-major floats, numel = product of the shape. */
typedef struct {
	const char *name;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	const float *data;
} st_tensor;

/* Write the tensors and the metadata (key/value pairs: meta[2i], meta[2i+1],
 * nmeta pairs) atomically: temp file, fsync, rename. Refuses to replace an
 * existing PATH unless overwrite. */
int st_write(const char *path, const st_tensor *tensors, int n, const char *const *meta,
	     int nmeta, bool overwrite);

typedef struct st_file st_file;

/* Open and validate PATH; NULL with an error. */
st_file *st_open(const char *path);
void st_close(st_file *f);
const char *st_path(const st_file *f);
/* The metadata value of KEY, NULL when absent. */
const char *st_metadata(const st_file *f, const char *key);
/* The number of tensors and the name of the i-th (in the header's order). */
int st_count(const st_file *f);
const char *st_name(const st_file *f, int i);
/* Shape of NAME: returns 1 and fills ndim/shape when present, 0 when absent. */
int st_shape(const st_file *f, const char *name, int *ndim, int64_t shape[ST_MAX_DIMS]);
/* Read NAME into out as floats, checking that its shape is exactly
 * (ndim, shape). -1 with an error naming the file and tensor. */
int st_read(st_file *f, const char *name, int ndim, const int64_t *shape, float *out);

#endif
