/*
 * fuzz_hellaswag.c — the HellaSwag readers (the JSONL and the 6-line text
 * form, told apart by content) in both styles, on any bytes; and the
 * harness preprocessing on the bytes as a string.
 */
#include "fuzz.h"
#include "eval/hellaswag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size, ".txt");
	for (int style = HS_STYLE_LLMC; style <= HS_STYLE_HARNESS; style++) {
		hs_set s;
		if (hellaswag_read(&s, path, (hs_style)style, 0) == 0) {
			for (size_t i = 0; i < s.n; i++)
				for (int k = 0; k < HS_CHOICES; k++)
					(void)hellaswag_charlen(s.items[i].ending[k]);
			hellaswag_free(&s);
		}
	}
	char *text = fuzz_string(data, size);
	free(hellaswag_preprocess(text));
	free(text);
	return 0;
}
