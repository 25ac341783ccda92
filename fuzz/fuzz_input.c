/*
 * fuzz_input.c — text input on any bytes: plain, compressed or archived
 * (libarchive finds out), or JSON lines. The first byte chooses: odd reads
 * JSON lines with the key "text", even reads the rest as it is.
 */
#include "fuzz.h"
#include "text/input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *path = fuzz_file(data + 1, size - 1, ".in");
	text_input *in = text_input_open(path, (data[0] & 1) ? "text" : NULL);
	if (!in)
		return 0;
	const uint8_t *buf;
	bool doc_start;
	long n;
	uint64_t total = 0;
	while ((n = text_input_read(in, &buf, &doc_start)) > 0)
		total += buf[0] + buf[n - 1];  /* touch both ends of every piece */
	(void)total;
	(void)text_input_links_skipped(in);
	text_input_close(in);
	return 0;
}
