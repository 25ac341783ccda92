#!/bin/bash
test_description='bpe-learn: compressed and archived inputs, JSON lines, bad input'
. ./lib-test.sh

# exit_code N CMD...: CMD exits with status N
exit_code() {
	local want=$1
	shift
	"$@"
	local got=$?
	[ "$got" = "$want" ] || { echo "exit $got, wanted $want: $*"; return 1; }
}

test_expect_success 'set up: a corpus and its reference merges' '
	cat "$TEST_DATA/cs336/corpus.en" "$TEST_DATA/cs336/tinystories_sample.txt" >c.txt &&
	bpe-learn -v 400 -s "<|endoftext|>" c.txt >ref.bpe
'

for z in "gzip" "xz -T1" "zstd -q" "bzip2"; do
	test_expect_success "$z: the same merges as the plain file" "
		$z -c c.txt >c.z && bpe-learn -v 400 -s '<|endoftext|>' c.z >out.bpe &&
		test_cmp ref.bpe out.bpe
	"
done

test_expect_success 'tar and zip of the text: the same merges; members are documents' '
	tar cf c.tar c.txt && bpe-learn -v 400 -s "<|endoftext|>" c.tar >out.bpe &&
	test_cmp ref.bpe out.bpe &&
	zip -q c.zip c.txt && bpe-learn -v 400 -s "<|endoftext|>" c.zip >out.bpe &&
	test_cmp ref.bpe out.bpe &&
	printf "ab" >x1 && printf "cd" >x2 && tar cf x.tar x1 x2 && printf "abcd" >x12 &&
	bpe-learn -v 258 x.tar >sep.bpe 2>/dev/null && bpe-learn -v 258 x12 >joined.bpe &&
	! grep -q "^b cd\$" sep.bpe && grep -q "^b cd\$" joined.bpe
'

test_expect_success PYTHON '--jsonl KEY: the same merges as the texts split by the special' '
	"$PYTHON" - c.txt c.jsonl <<-\PY &&
	import json, sys
	text = open(sys.argv[1], encoding="utf-8").read()
	with open(sys.argv[2], "w", encoding="utf-8") as f:
	    for doc in text.split("<|endoftext|>"):
	        f.write(json.dumps({"id": 1, "text": doc}) + "\n")
	PY
	bpe-learn -v 400 -s "<|endoftext|>" --jsonl text c.jsonl >out.bpe &&
	test_cmp ref.bpe out.bpe &&
	gzip -k c.jsonl && bpe-learn -v 400 -s "<|endoftext|>" --jsonl text c.jsonl.gz >out.bpe &&
	test_cmp ref.bpe out.bpe
'

test_expect_success 'several files: their texts counted together' '
	printf "hello hello " >h1 && printf "world" >h2 &&
	bpe-learn -v 262 h1 h2 >two.bpe && cat h1 h2 | bpe-learn -v 262 >one.bpe &&
	test_cmp one.bpe two.bpe
'

test_expect_success 'an unreadable file: error naming it, exit 1, no output' '
	exit_code 1 bpe-learn -o out1.bpe nosuch.txt 2>err &&
	grep -q "^bpe-learn: cannot open .nosuch.txt.: No such file or directory" err &&
	test ! -e out1.bpe && test -z "$(ls out1.bpe.tmp* 2>/dev/null)"
'

test_expect_success 'a FIFO member: error naming it, no output' '
	mkdir d && echo hi >d/a && mkfifo d/fifo && tar cf l.tar d/a d/fifo &&
	exit_code 1 bpe-learn -o out2.bpe l.tar 2>err &&
	grep -q "member .d/fifo. is a FIFO, not a regular file" err && test ! -e out2.bpe
'

test_expect_success 'a malformed JSON line: error naming file and line' '
	printf "{\"text\":\"a\"}\n{\"text\":\n" >bad.jsonl &&
	exit_code 1 bpe-learn --jsonl text -o out3.bpe bad.jsonl 2>err &&
	grep -q "bad.jsonl. line 2: malformed JSON" err && test ! -e out3.bpe &&
	printf "{\"txt\":\"a\"}\n" >nokey.jsonl &&
	exit_code 1 bpe-learn --jsonl text nokey.jsonl 2>err &&
	grep -q "nokey.jsonl. line 1: no key .text." err
'

test_expect_success 'vocabulary too small, empty special: usage errors (exit 2)' '
	echo hi >hi.txt &&
	exit_code 2 bpe-learn -v 255 hi.txt 2>err && grep -q "too small" err &&
	exit_code 2 bpe-learn -v 256 -s "<s>" hi.txt 2>err && grep -q "too small" err &&
	exit_code 2 bpe-learn -s "" hi.txt 2>err && grep -q "empty special" err &&
	exit_code 2 bpe-learn -v 300x hi.txt 2>/dev/null &&
	exit_code 2 bpe-learn --no-such-option 2>/dev/null
'

test_expect_success 'an existing output is kept unless -f; -f replaces it' '
	echo old >keep.bpe &&
	exit_code 1 bpe-learn -v 260 -o keep.bpe hi.txt 2>err &&
	grep -q "refusing to overwrite" err && echo old >expect && test_cmp expect keep.bpe &&
	bpe-learn -f -v 260 -o keep.bpe hi.txt && head -n 1 keep.bpe | grep -q "^#version"
'

test_expect_success '--help goes to stdout, exit 0; the man page is roff' '
	bpe-learn --help >help && grep -q "^usage: bpe-learn" help &&
	grep -q "^\\.TH BPE-LEARN 1" "$TOP/bpe-learn/bpe-learn.1"
'

test_done
