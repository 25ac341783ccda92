#!/bin/bash
test_description='share/tok/merges.c: tokens found by their text in the alphabet

The reader finds a part by its text as it stands in the line (first 8 bytes
in one word, the rest compared apart) and a merge by its parts joined; a
text may end inside a two-byte symbol of the head word, or begin like
another. Each file is read and written back (the bytes of every token
encoded again), or refused with the error a reading by bytes gives.'
. ./lib-test.sh

# The merges that spell the symbols given one more a line ("a b", "ab c",
# ...), so that keys cross 8 and 16 bytes.
chain() {
	local made=$1
	shift
	for s in "$@"; do
		printf '%s %s\n' "$made" "$s"
		made=$made$s
	done
}

test_expect_success 'texts of 2 to 26 bytes, 8 and 16 among them: read and written back' '
	{ echo "#version: 0.2" && chain {a..z}; } >long.bpe &&
	test-tool merges info long.bpe >out &&
	echo "merges 25 specials 0 vocab 281" >expect && test_cmp expect out &&
	test-tool merges write long.bpe again.bpe && test_cmp long.bpe again.bpe
'

test_expect_success 'two-byte symbols (Ġ, Ċ, ł) across the head word: read and written back' '
	{ echo "#version: 0.2" && chain Ġ Ġ Ġ Ġ Ġ Ġ Ġ Ġ Ġ Ġ Ġ Ġ && chain a Ċ Ċ Ċ Ċ Ċ Ċ Ċ Ċ Ċ ł &&
	  printf "aĊĊĊ ĠĠĠĠ\nĠĠĠĠ aĊĊĊ\n"; } >sym.bpe &&
	test-tool merges info sym.bpe >out &&
	echo "merges 23 specials 0 vocab 279" >expect && test_cmp expect out &&
	test-tool merges write sym.bpe again.bpe && test_cmp sym.bpe again.bpe
'

test_expect_success 'texts the same but for a symbol after the head word are two tokens' '
	# "aĠĠĠĠ" and "aĠĠĠġ": 9 bytes, the same first 8 (the head ends
	# inside the last symbol), the last byte apart
	{ echo "#version: 0.2" && chain a Ġ Ġ Ġ Ġ && printf "aĠĠĠ ġ\naĠĠĠġ Ġ\naĠĠĠĠ Ġ\n"; } >tail.bpe &&
	test-tool merges info tail.bpe >out &&
	echo "merges 7 specials 0 vocab 263" >expect && test_cmp expect out &&
	test-tool merges write tail.bpe again.bpe && test_cmp tail.bpe again.bpe
'

test_expect_success '272 texts alike in their first 8 bytes and length: read and written back' '
	# so that some share a slot of the table and are told apart by the
	# bytes after the head
	{ echo "#version: 0.2" && chain {a..h} &&
	  for x in {a..p}; do echo "abcdefgh $x"; done &&
	  for x in {a..p}; do for y in {a..p}; do echo "abcdefgh$x $y"; done; done; } >alike.bpe &&
	test-tool merges info alike.bpe >out &&
	echo "merges 279 specials 0 vocab 535" >expect && test_cmp expect out &&
	test-tool merges write alike.bpe again.bpe && test_cmp alike.bpe again.bpe &&
	{ cat alike.bpe && echo "abcdefghp p"; } >alike-dup.bpe &&
	test_must_fail test-tool merges info alike-dup.bpe 2>err &&
	grep -q "alike-dup.bpe. line 281: duplicate merge .abcdefghp p." err
'

test_expect_success 'a text that begins like a token is not that token' '
	{ echo "#version: 0.2" && chain {a..j} && echo "abcdefghi jk"; } >prefix.bpe &&
	test_must_fail test-tool merges info prefix.bpe 2>err &&
	grep -q "prefix.bpe. line 11: .jk. is not a token made by an earlier line" err &&
	{ echo "#version: 0.2" && chain {a..j} && echo "abcdefghijk l"; } >longer.bpe &&
	test_must_fail test-tool merges info longer.bpe 2>err &&
	grep -q "longer.bpe. line 11: .abcdefghijk. is not a token made by an earlier line" err &&
	{ echo "#version: 0.2" && chain {a..j} && echo "abcdefghiZ j"; } >other.bpe &&
	test_must_fail test-tool merges info other.bpe 2>err &&
	grep -q "other.bpe. line 11: .abcdefghiZ. is not a token made by an earlier line" err
'

test_expect_success 'long merges: a duplicate, and the same bytes made another way' '
	{ echo "#version: 0.2" && chain {a..l} && echo "abcdefghij k"; } >dup.bpe &&
	test_must_fail test-tool merges info dup.bpe 2>err &&
	grep -q "dup.bpe. line 13: duplicate merge .abcdefghij k." err &&
	{ echo "#version: 0.2" && chain {a..l} && chain k l && echo "abcdefghij kl"; } >same.bpe &&
	test_must_fail test-tool merges info same.bpe 2>err &&
	grep -q "same.bpe. line 14: merge .abcdefghij kl. makes the bytes of token 266 again" err &&
	{ echo "#version: 0.2" && chain Ġ Ġ Ġ Ġ Ġ && echo "Ġ ĠĠĠĠ"; } >samesym.bpe &&
	test_must_fail test-tool merges info samesym.bpe 2>err &&
	grep -q "samesym.bpe. line 6: merge .Ġ ĠĠĠĠ. makes the bytes of token 259 again" err
'

test_expect_success 'the last line without a newline, CRLF, a long part last on its line' '
	{ echo "#version: 0.2" && chain {a..m}; } >lf.bpe &&
	head -c -1 lf.bpe >nonl.bpe &&
	test-tool merges info nonl.bpe >out &&
	echo "merges 12 specials 0 vocab 268" >expect && test_cmp expect out &&
	sed "s/\$/\r/" lf.bpe >crlf.bpe && head -c -2 crlf.bpe >crlf-nonl.bpe &&
	printf "\r" >>crlf-nonl.bpe &&
	test-tool merges write crlf.bpe again.bpe && test_cmp lf.bpe again.bpe &&
	test-tool merges write crlf-nonl.bpe again.bpe && test_cmp lf.bpe again.bpe &&
	{ echo "#version: 0.2" && chain {a..j} && printf "abcdefghi xy"; } >endpart.bpe &&
	test_must_fail test-tool merges info endpart.bpe 2>err &&
	grep -q "endpart.bpe. line 11: .xy. is not a token made by an earlier line" err &&
	{ echo "#version: 0.2" && chain {a..j} && printf "abcdefghij \xc4"; } >endsym.bpe &&
	test_must_fail test-tool merges info endsym.bpe 2>err &&
	grep -q "endsym.bpe. line 11: malformed UTF-8 (byte 0xC4)" err
'

test_done
