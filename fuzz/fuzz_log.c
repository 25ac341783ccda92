/*
 * fuzz_log.c — a training log (log.jsonl) on any bytes, as lm-stat reads
 * it: run_log_read, then the run's summary.
 */
#include "fuzz.h"
#include "train/log.h"
#include "train/run_summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_log run;
	if (run_log_read(&run, fuzz_file(data, size, ".jsonl")) != 0)
		return 0;
	run_summary s;
	run_summary_compute(&run, &s);
	run_log_free(&run);
	return 0;
}
