/*
 * fuzz_config.c — a model config from JSON text (config_from_json, the
 * reader of a checkpoint's "config" metadata and of config files), then
 * its checks and its JSON again.
 */
#include "fuzz.h"
#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *json = fuzz_string(data, size);
	lm_config c;
	config_family_defaults(&c, FAMILY_GPT2);
	if (config_from_json(&c, json, "fuzz") == 0 && config_finish(&c) == 0) {
		char *again = config_to_json(&c);
		free(again);
	}
	free(json);
	return 0;
}
