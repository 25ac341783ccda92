/*
 * fuzz_safetensors.c — st_open on any bytes, then every tensor's name,
 * shape and data, and the metadata, as a checkpoint loader reaches them.
 */
#include "fuzz.h"
#include "ckpt/safetensors.h"

enum { MAX_NUMEL = 1 << 16 };  /* tensors read in full up to this size */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	st_file *f = st_open(fuzz_file(data, size, ".safetensors"));
	if (!f)
		return 0;
	(void)st_metadata(f, "format");
	for (int i = 0; i < st_count(f); i++) {
		const char *name = st_name(f, i);
		int ndim;
		int64_t shape[ST_MAX_DIMS];
		if (!st_shape(f, name, &ndim, shape))
			abort();  /* a listed tensor must have a shape */
		int64_t numel = 1;
		for (int d = 0; d < ndim; d++) {
			if (shape[d] < 0 || (shape[d] && numel > MAX_NUMEL / shape[d])) {
				numel = -1;
				break;
			}
			numel *= shape[d];
		}
		if (numel < 0 || numel > MAX_NUMEL)
			continue;
		float *out = malloc((size_t)(numel ? numel : 1) * sizeof *out);
		(void)st_read(f, name, ndim, shape, out);
		free(out);
	}
	st_close(f);
	return 0;
}
