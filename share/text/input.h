/*
 * input.h — where text comes from: files, stdin, anything libarchive reads
 * (plain, gz, xz, zst, bz2, and tar or zip archives of text files, any of
 * them compressed), and JSON lines (one string field a line).
 *
 * Documents: a plain (or compressed plain) file is one document; each
 * regular member of a tar or zip archive is one; with a JSON-lines key each
 * line is one. Members that are not regular files:
 *   - directories are skipped;
 *   - symbolic links and hard links are skipped and counted
 *     (text_input_links_skipped): the file a link names is read as a member
 *     of its own when it is in the archive, so skipping never loses text
 *     that the archive holds, and never counts it twice. Source tarballs
 *     (linux-source) hold thousands of links; the caller may warn once
 *     with the count;
 *   - devices, FIFOs and sockets are an error naming the member: they hold
 *     no text, and an archive with them is likely not a corpus.
 * A member that is itself compressed (a .gz in a tar) is an error naming
 * it: its bytes are no text, and the archive's members are read one layer
 * deep.
 * Damaged input is an error, never text: a gzip stream whose CRC-32 or
 * length does not match, a zip member whose CRC does not, a tar header
 * whose checksum does not (the first one included: such a file is not
 * read as plain text), a truncated or corrupt compressed stream.
 * Empty documents (an empty file or member, a JSON line whose string is
 * "") produce no piece: they are as if absent.
 * JSON lines: lines of white space only are skipped; a line that is not a
 * JSON object, or lacks the key, or whose value is not a string, is an error
 * naming the file (and member) and the line.
 *
 * Memory: the size of libarchive's blocks (128 KiB for a file that is not
 * an archive), plus, with a key, the longest line.
 */
#ifndef LMPIPE_TEXT_INPUT_H
#define LMPIPE_TEXT_INPUT_H

#include <stdbool.h>
#include <stdint.h>

/* The bytes of a plain file's pieces (at most), 128 KiB: bpe-encode's
 * chunks are made of them, and a chunk whose text and ids stay in a core's
 * L2 cache and touch few fresh pages encodes faster (1 MiB blocks cost CJK
 * text a sixth more CPU time, a tenth of it the kernel's page faults). */
enum { TEXT_INPUT_BLOCK = 1 << 17 };

typedef struct text_input text_input;

/* Open PATH ("-" = stdin); with JSONL_KEY non-NULL, read that field of each
 * JSON line. NULL + lm_fail when the file cannot be opened. */
text_input *text_input_open(const char *path, const char *jsonl_key);
/* Next piece of text into *buf (valid until the next call); returns its
 * length, 0 at the end, -1 on error (lm_fail names the file, member, line).
 * *doc_start is true when this piece begins a new document. Pieces of a
 * document may be cut anywhere (even inside a UTF-8 sequence): consumers
 * must carry over. */
long text_input_read(text_input *in, const uint8_t **buf, bool *doc_start);
/* Symbolic and hard links skipped so far (always 0 for a plain file). */
uint64_t text_input_links_skipped(const text_input *in);
void text_input_close(text_input *in);

#endif
