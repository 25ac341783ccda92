/*
 * device_model.c — opening a model on the device --device names (cpu,
 * cuda or auto; a build without CUDA says so here), closing it, and the
 * model's layout for the optimizer. See device_model.h.
 */
#include "model/device_model.h"
#include "model/device.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

adamw_span *device_model_spans(const gpt_model *m)
{
	adamw_span *spans = malloc((size_t)(m->num_tensors ? m->num_tensors : 1) * sizeof *spans);
	if (!spans)
		return lm_fail("out of memory"), NULL;
	for (int i = 0; i < m->num_tensors; i++)
		spans[i] = (adamw_span){m->tensors[i].offset, m->tensors[i].numel, m->tensors[i].decay};
	return spans;
}

int device_model_adamw_init(adamw *o, const gpt_model *m, adamw_hparams hp)
{
	adamw_span *spans = device_model_spans(m);
	if (!spans)
		return -1;
	int rc = adamw_init(o, m->num_params, spans, m->num_tensors, hp);
	free(spans);
	return rc;
}

int device_model_open(device_model *d, const char *device, gpt_model *model)
{
	memset(d, 0, sizeof *d);
	d->model = model;
	const char *dev = device_resolve(device);
	if (!dev)
		return lm_fail("--device: '%s' is cpu, cuda or auto", device);
#ifdef LMPIPE_CUDA
	int rc = strcmp(dev, "cpu") == 0 ? device_model_cpu_open(d) : device_model_cuda_open(d);
#else
	int rc = strcmp(dev, "cpu") == 0 ? device_model_cpu_open(d)
		 : lm_fail("--device cuda: this build has no CUDA (built without CUDA: make "
			   "found no nvcc)");
#endif
	if (rc != 0)
		device_model_close(d);
	return rc;
}

void device_model_close(device_model *d)
{
	if (d->close)
		d->close(d);
	adamw_free(&d->opt);
	memset(d, 0, sizeof *d);
}
