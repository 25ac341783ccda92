#!/bin/bash
test_description='bpe-encode: streaming and threads equal whole-input encoding; decode; bad input'
. ./lib-test.sh

TD=$(cd "$TEST_DIRECTORY" && pwd)
G="$GPT2_DATA"
py() { "$PYTHON" -c "import sys; sys.path.insert(0, '$TD'); import importlib; lt = importlib.import_module('lib-tiktoken'); $1"; }
enc() { bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" "$@"; }
# expect_exit N CMD...: CMD exits with status N
expect_exit() { local want=$1; shift; "$@"; local got=$?; [ $got = $want ] || { echo "exit $got, wanted $want: $*"; return 1; }; }

test_expect_success 'hello\n\n\nworld: chunked equals whole' '
	printf "hello\n\n\nworld" >trap.txt &&
	enc trap.txt | od -An -tu2 | xargs >out &&
	echo "31373 628 198 6894" >expect && test_cmp expect out &&
	for c in 1 2 3 5 7; do enc --chunk $c trap.txt | od -An -tu2 | xargs >out.$c && test_cmp expect out.$c || return 1; done
'

test_expect_success PYTHON 'adversarial text: any chunk size, -j 1 and -j 2 equal tiktoken' '
	py "open(\"adv.txt\", \"w\", encoding=\"utf-8\").write(lt.adversarial(7, 4000) + \"<|endoftext|>\" + lt.adversarial(8, 2000)); lt.encode_file(lt.gpt2(), \"adv.txt\", \"adv.expect\")" &&
	for c in 1 13 64 1000 1M; do
		for j in 1 2; do
			enc --chunk $c -j $j adv.txt >adv.$c.$j && test_cmp adv.expect adv.$c.$j || return 1
		done
	done
'

test_expect_success 'stdin equals a file; a special cut by the chunk edge is kept' '
	printf "ab<|endoftext|>cd<|endoftext|><|endoftext|>ef" >sp.txt &&
	enc sp.txt >whole && enc <sp.txt >piped && test_cmp whole piped &&
	for c in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do enc --chunk $c -j 2 sp.txt >c.$c && test_cmp whole c.$c || return 1; done
'

test_expect_success 'files are separate texts; --jsonl precedes each document with <|endoftext|>' '
	printf "x\n\n" >a.txt && printf "y" >b.txt &&
	enc a.txt b.txt | od -An -tu2 | xargs >out &&
	echo "87 628 88" >expect && test_cmp expect out &&
	printf "{\"text\": \"x\\\\n\\\\n\"}\n{\"text\": \"y\", \"id\": 2}\n" >d.jsonl &&
	enc --jsonl text d.jsonl | od -An -tu2 | xargs >out &&
	echo "50256 87 628 50256 88" >expect && test_cmp expect out
'

test_expect_success 'compressed input reads through libarchive' '
	printf "hello world" | gzip >h.gz && enc h.gz | od -An -tu2 | xargs >out &&
	echo "31373 995" >expect && test_cmp expect out
'

test_expect_success 'decode gives back any bytes, invalid UTF-8 included' '
	head -c 200000 /dev/urandom >rand.bin &&
	enc --chunk 4096 -j 2 rand.bin >rand.ids && enc rand.bin >rand.ids1 && test_cmp rand.ids1 rand.ids &&
	enc -d rand.ids >back && cmp rand.bin back &&
	enc --u32 rand.bin >rand.ids32 && enc --u32 -d rand.ids32 >back32 && cmp rand.bin back32
'

test_expect_success 'invalid bytes are symbols of class other' '
	printf " \377\376! a\377" | test-tool pretok split >out &&
	printf "20fffe21\n2061\nff\n" >expect && test_cmp expect out
'

test_expect_success 'long pieces encode in linear time (1 MB of one letter, of no split)' '
	perl -e "print q(a) x 1000000" >a.txt &&
	perl -e "print qq(\\xc3\\xa9x) x 300000" >e.txt &&
	for f in a.txt e.txt; do
		timeout 30 "$LMPIPE_REL_BIN/bpe-encode" -m "$G/vocab.bpe" --chunk 64K $f >$f.ids &&
		"$LMPIPE_REL_BIN/bpe-encode" -m "$G/vocab.bpe" -d $f.ids >$f.back && cmp $f $f.back || return 1
	done
'

test_expect_success PYTHON 'long pieces: the ids of tiktoken' '
	py "open(\"long.txt\", \"w\").write(\"a\" * 3000 + \" \" + \"é\" * 2000 + \"x\" * 100 + \"!\" * 500 + \" \" * 700 + \"b\")
lt.encode_file(lt.gpt2(), \"long.txt\", \"long.expect\")" &&
	enc long.txt >long.out && test_cmp long.expect long.out
'

test_expect_success 'errors: unreadable file, nothing written' '
	expect_exit 1 enc missing.txt >out 2>err &&
	test ! -s out && grep "bpe-encode: cannot open .missing.txt.: No such file" err
'

test_expect_success 'errors: malformed merges, empty special' '
	printf "a b\n" >bad.bpe &&
	expect_exit 1 bpe-encode -m bad.bpe </dev/null 2>err && grep "bpe-encode: .*bad.bpe" err &&
	expect_exit 2 bpe-encode -m bad.bpe -s "" </dev/null 2>err && grep "empty special" err
'

test_expect_success PYTHON 'errors: a vocabulary beyond uint16 without --u32' '
	py "lt.pairs_merges(\"pairs.bpe\")" &&
	echo hi >hi.txt && expect_exit 1 bpe-encode -m pairs.bpe hi.txt >out 2>err &&
	grep "does not fit uint16: use --u32" err && test ! -s out
'

test_expect_success 'errors: out-of-range ids and odd byte counts on -d' '
	printf "\377\377" >big.ids &&
	expect_exit 1 enc -d big.ids 2>err && grep "token id 65535 at position 0 is beyond the vocabulary of 50257" err &&
	printf "a" | enc >one.ids && printf "\001" >>one.ids &&
	expect_exit 1 enc -d one.ids >out 2>err && grep "1 trailing byte" err
'

test_expect_success 'bpe-encode --help' '
	bpe-encode --help >out && grep "^usage: bpe-encode" out
'

test_done
