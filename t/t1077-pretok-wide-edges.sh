#!/bin/bash
test_description='pre-tokens that begin with a character of two bytes or more, after a space or not: marks after a space, letters after marks, white space of two and three bytes after a space, invalid bytes inside short pieces, three-byte characters of blocks whose classes change, and each of them at the very end of the text'
. ./lib-test.sh

G="$GPT2_DATA"

# FILE: every pair of edge strings, each pair followed by nothing, a space,
# a newline or an ASCII letter; with "invalid", damaged sequences among the
# edges. Then each edge after a space at the very end of the text.
wide_text() {
	"$PYTHON" - "$1" "$2" <<-\PYEOF
	import sys
	valid = ["\u0915", "\u093f", "\u094d", "\u0915\u093f", "\u093f\u0915", " \u093e", " \u094d\u0915",
	         "\u0928\u092e\u0938\u094d\u0924\u0947", "\u0966\u0967", "\u0964",            # Devanagari
	         "\u0628\u0650", "\u064b\u0628", "\u0660\u0661", "\u060c",                    # Arabic
	         "\u0416", "\u00e9\u0301", "\u00a0", "\u0085", "\u3000", "\u2028", "\u1680",  # spaces of 2, 3 bytes
	         "\u4e2d\u6587", "\u3001", "\u30fc\u30ab", "\u0800", "\u0fff", "\uffff", "\ufffd",
	         "\u3400\u33ff", "\u0b83\u0b85", "\u0e31\u0e01",                            # class changes in blocks
	         "\U0001f600", "\U0001d400", "'s", "'", "x", "7", " ", "  ", "\n"]
	invalid = [b"\xe0\x80\x80", b"\xe0\xa4", b"\xe0", b"\xa4", b"\xed\xa0\x80", b"\xc1\x81",
	           b"\xc2", b"\xff", b"\xe0\xa4\x41", b"\xf0\x9f\x98", b"\xe0\xa4\xe0\xa4\x95"]
	edges = [e.encode() for e in valid] + (invalid if sys.argv[2] == "invalid" else [])
	out = []
	for i, a in enumerate(edges):
	    for j, b in enumerate(edges):
	        out += [a, b, [b"", b" ", b"\n", b"x"][(i + j) % 4]]
	for e in edges:
	    out += [b" ", e]
	open(sys.argv[1], "wb").write(b"".join(out))
	PYEOF
}

test_expect_success PYTHON 'pre-tokens of pairs of wide edges, valid and damaged, equal the pattern' '
	for kind in valid invalid; do
		wide_text $kind $kind &&
		gpt2_pattern_split $kind >expect-$kind &&
		test-tool pretok split <$kind >out-$kind &&
		test_cmp expect-$kind out-$kind || return 1
	done
'

test_expect_success PYTHON 'each wide edge ends the text, at every cut of its last bytes' '
	wide_text edges invalid &&
	n=$(wc -c <edges) &&
	for k in 1 2 3 4 5 6 7; do
		head -c $((n - k)) edges >cut &&
		gpt2_pattern_split cut >expect && test-tool pretok split <cut >out &&
		test_cmp expect out || return 1
	done
'

test_expect_success PYTHON 'the fast path splits as the general one at every offset' '
	wide_text edges invalid &&
	test-tool pretok-fast <edges >out &&
	grep "^fast [1-9][0-9]* ok$" out
'

test_expect_success PYTHON 'ids of pairs of wide edges equal tiktoken' '
	wide_text valid valid &&
	tiktoken_gpt2_ids valid expect &&
	bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" -j 1 valid >got &&
	test_cmp expect got
'

test_done
