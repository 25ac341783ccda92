/*
 * alphabet.h — GPT-2's byte-to-unicode alphabet and the ids of the 256 byte
 * tokens.
 *
 * GPT-2 writes every token, in vocab.bpe and encoder.json, as text in which
 * each byte is one printable code point: the bytes '!'..'~', 0xA1..0xAC and
 * 0xAE..0xFF stand for themselves; the other 68 bytes (0x00..0x20,
 * 0x7F..0xA0, 0xAD), in increasing order, become U+0100..U+0143. So a space
 * is 'Ġ' (U+0120) and a newline 'Ċ' (U+010A).
 *
 * The 256 byte tokens take ids 0..255 in the order of GPT-2's encoder.json:
 * the self-standing bytes first, in increasing order ('!' = 0, ..., 'ÿ' =
 * 187), then the 68 others (0x00 = 188, ..., 0xAD = 255). That is the order
 * of their code points in the alphabet, not the byte values.
 */
#ifndef LMPIPE_TOK_ALPHABET_H
#define LMPIPE_TOK_ALPHABET_H

#include <stddef.h>
#include <stdint.h>

/* byte -> its printable code point (U+0021..U+0143) */
uint32_t alphabet_codepoint(uint8_t byte);
/* code point -> byte; -1 if the code point is not in the alphabet */
int alphabet_byte(uint32_t codepoint);
/* token id 0..255 of a single byte, in encoder.json's order (not the byte value) */
int alphabet_byte_id(uint8_t byte);
/* inverse of alphabet_byte_id; id in 0..255 */
uint8_t alphabet_id_byte(int id);

/* bytes -> UTF-8 text in the alphabet; out needs 2n+1 bytes and is
 * NUL-terminated; returns the text's length */
size_t alphabet_encode(const uint8_t *bytes, size_t n, char *out);
/* UTF-8 alphabet text -> bytes (out needs n bytes); -1 (lm_fail) on a
 * symbol outside the alphabet or malformed UTF-8 */
int alphabet_decode(const char *text, size_t n, uint8_t *out, size_t *out_len);

#endif
