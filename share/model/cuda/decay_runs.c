/*
 * decay_runs.c — the weight-decay runs cu_adamw takes, from the optimizer's
 * spans (optim/adamw.h): the model's tensors lie in the flat array in
 * offset order, and adjacent tensors with the same decay flag make one run,
 * so a whole GPT needs a handful of runs (about one a tensor kind) where
 * it has hundreds of tensors.
 */
#include "model/cuda/kernels.h"
#include "optim/adamw.h"
#include "util/error.h"

#include <string.h>

int cu_decay_runs_from_spans(cu_decay_runs *r, const struct adamw_span *spans, int n)
{
	memset(r, 0, sizeof *r);
	size_t at = 0;
	for (int i = 0; i < n; i++) {
		if (spans[i].offset != at)
			return lm_fail("decay runs: span %d starts at %zu, not %zu (spans must be "
				       "contiguous from 0, in offset order)",
				       i, spans[i].offset, at);
		if (spans[i].numel == 0)
			continue;
		unsigned char decay = spans[i].decay ? 1 : 0;
		at += spans[i].numel;
		if (r->count > 0 && r->decay[r->count - 1] == decay) {
			r->end[r->count - 1] = at;
			continue;
		}
		if (r->count == CU_ADAMW_MAX_RUNS)
			return lm_fail("decay runs: the spans need more than %d runs",
				       CU_ADAMW_MAX_RUNS);
		r->end[r->count] = at;
		r->decay[r->count] = decay;
		r->count++;
	}
	return 0;
}
