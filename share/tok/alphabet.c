/*
 * alphabet.c — GPT-2's byte-to-unicode alphabet (see alphabet.h), computed
 * from its definition rather than tabulated.
 */
#include "tok/alphabet.h"
#include "util/error.h"

/* The bytes GPT-2 prints as themselves: '!'..'~', 0xA1..0xAC, 0xAE..0xFF. */
static int byte_is_printable(unsigned b)
{
	return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
}

enum {
	N_PRINTABLE = 188,     /* 94 + 12 + 82 */
	N_SHIFTED = 68,        /* the other bytes, mapped to U+0100.. */
	SHIFT_BASE = 0x100,
};

/* Rank of a non-printable byte among the 68, in increasing byte order. */
static unsigned shifted_rank(unsigned b)
{
	if (b <= 0x20)
		return b;                   /* 0..32 */
	if (b <= 0xA0)
		return 33 + (b - 0x7F);     /* 0x7F..0xA0 -> 33..66 */
	return 67;                          /* 0xAD */
}

static unsigned shifted_byte(unsigned rank)
{
	if (rank <= 32)
		return rank;
	if (rank <= 66)
		return 0x7F + (rank - 33);
	return 0xAD;
}

/* Rank of a printable byte among the 188, in increasing byte order. */
static unsigned printable_rank(unsigned b)
{
	if (b <= 0x7E)
		return b - 0x21;            /* 0..93 */
	if (b <= 0xAC)
		return 94 + (b - 0xA1);     /* 94..105 */
	return 106 + (b - 0xAE);            /* 106..187 */
}

static unsigned printable_byte(unsigned rank)
{
	if (rank <= 93)
		return 0x21 + rank;
	if (rank <= 105)
		return 0xA1 + (rank - 94);
	return 0xAE + (rank - 106);
}

uint32_t alphabet_codepoint(uint8_t byte)
{
	if (byte_is_printable(byte))
		return byte;
	return SHIFT_BASE + shifted_rank(byte);
}

int alphabet_byte(uint32_t cp)
{
	if (cp < 0x100)
		return byte_is_printable(cp) ? (int)cp : -1;
	if (cp < SHIFT_BASE + N_SHIFTED)
		return (int)shifted_byte(cp - SHIFT_BASE);
	return -1;
}

int alphabet_byte_id(uint8_t byte)
{
	if (byte_is_printable(byte))
		return (int)printable_rank(byte);
	return N_PRINTABLE + (int)shifted_rank(byte);
}

uint8_t alphabet_id_byte(int id)
{
	if (id < N_PRINTABLE)
		return (uint8_t)printable_byte((unsigned)id);
	return (uint8_t)shifted_byte((unsigned)(id - N_PRINTABLE));
}

size_t alphabet_encode(const uint8_t *bytes, size_t n, char *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = alphabet_codepoint(bytes[i]);
		if (cp < 0x80) {
			out[k++] = (char)cp;
		} else {  /* every code point of the alphabet is below U+0800 */
			out[k++] = (char)(0xC0 | (cp >> 6));
			out[k++] = (char)(0x80 | (cp & 0x3F));
		}
	}
	out[k] = '\0';
	return k;
}

/* The error for a multi-byte symbol (or malformed UTF-8) at s. */
static int fail_symbol(const uint8_t *s, size_t n)
{
	int need = s[0] >= 0xF0 ? 3 : s[0] >= 0xE0 ? 2 : s[0] >= 0xC0 ? 1 : 0;
	if (need == 0)  /* a continuation byte with no lead byte */
		return lm_fail("malformed UTF-8 (byte 0x%02X)", s[0]);
	uint32_t cp = s[0] & (0x3F >> need);
	for (int j = 1; j <= need; j++) {
		if ((size_t)j >= n || (s[j] & 0xC0) != 0x80)
			return lm_fail("malformed UTF-8 (byte 0x%02X)", s[0]);
		cp = (cp << 6) | (s[j] & 0x3F);
	}
	return lm_fail("symbol U+%04X is outside the byte alphabet", (unsigned)cp);
}

int alphabet_decode(const char *text, size_t n, uint8_t *out, size_t *out_len)
{
	const uint8_t *s = (const uint8_t *)text;
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		if (s[i] >= 0x21 && s[i] <= 0x7E) {  /* printable ASCII: itself */
			out[k++] = s[i++];
			continue;
		}
		if (s[i] < 0x80) {
			cp = s[i++];
		} else if ((s[i] & 0xE0) == 0xC0 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
			cp = ((uint32_t)(s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F);
			i += 2;
			if (cp < 0x80)
				return lm_fail("overlong UTF-8 at byte %zu", i - 2);
		} else {
			return fail_symbol(s + i, n - i);
		}
		int b = alphabet_byte(cp);
		if (b < 0)
			return lm_fail("symbol U+%04X is outside the byte alphabet", (unsigned)cp);
		out[k++] = (uint8_t)b;
	}
	*out_len = k;
	return 0;
}
