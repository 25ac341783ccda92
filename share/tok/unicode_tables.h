/*
 * unicode_tables.h — the character classes GPT-2's pre-tokenizer needs, for
 * every code point, generated from the Unicode data of the version tiktoken's
 * regex engine uses (see scripts/gen-unicode-tables.py and
 * unicode_tables.c for the version).
 */
#ifndef LMPIPE_TOK_UNICODE_TABLES_H
#define LMPIPE_TOK_UNICODE_TABLES_H

#include <stdint.h>

extern const char unicode_tables_version[];
/* class of cp (< 0x110000) = unicode_class_stage2[unicode_class_stage1[cp >> 8]][cp & 255] */
extern const uint16_t unicode_class_stage1[0x1100];
extern const uint8_t unicode_class_stage2[][256];
/* class of the three-byte UTF-8 sequence that carries the 16 bits p: that of
 * U+0800..U+FFFF (the surrogates are other), other below U+0800 (overlong) */
extern const uint8_t unicode_class_three[0x10000];

#endif
