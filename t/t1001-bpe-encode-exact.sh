#!/bin/bash
test_description='bpe-encode: the ids of tiktoken gpt2, on fixtures and adversarial text'
. ./lib-test.sh

TD=$(cd "$TEST_DIRECTORY" && pwd)
G="$GPT2_DATA"
py() { "$PYTHON" -c "import sys; sys.path.insert(0, '$TD'); import importlib; lt = importlib.import_module('lib-tiktoken'); $1"; }
enc() { bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" "$@"; }

test_expect_success PYTHON 'CS336 fixtures and the corpora: the ids of tiktoken' '
	for p in cs336/address.txt cs336/german.txt cs336/tinystories_sample.txt \
		cs336/special_token_trailing_newlines.txt cs336/special_token_double_newlines_non_whitespace.txt \
		cs336/corpus.en corpus/tinyshakespeare_head.txt corpus/tinystories_val_head.txt
	do
		f=$(basename $p) &&
		py "lt.encode_file(lt.gpt2(), \"$TEST_DATA/$p\", \"$f.expect\")" &&
		enc "$TEST_DATA/$p" >$f.out &&
		test_cmp $f.expect $f.out || return 1
	done
'

test_expect_success 'CS336 special-token fixtures: the ids the CS336 tests expect' '
	enc "$TEST_DATA/cs336/special_token_trailing_newlines.txt" | od -An -tu2 | xargs >out &&
	echo "50256 628" >expect && test_cmp expect out &&
	enc "$TEST_DATA/cs336/special_token_double_newlines_non_whitespace.txt" | od -An -tu2 | xargs >out &&
	echo "50256 198 198 33407 0" >expect && test_cmp expect out
'

test_expect_success PYTHON 'expected_ids.json: every file and string' '
	py "
import json, subprocess, numpy as np
d = json.load(open(\"$TEST_DATA/gpt2/expected_ids.json\"))
bad = 0
import hashlib
def out(args, data):
    return subprocess.run([\"bpe-encode\", \"-m\", \"$G/vocab.bpe\"] + args, input=data, capture_output=True, check=True).stdout
def run(args, data):
    return np.frombuffer(out(args, data), dtype=\"<u2\").tolist()
for name, f in d[\"files\"].items():
    args = sum(([\"-s\", s] for s in f[\"specials\"]), [])
    got = out(args, open(\"$TEST_DATA/\" + name, \"rb\").read())
    if hashlib.sha256(got).hexdigest() != f[\"sha256_uint16le\"] or len(got) != 2 * f[\"n_tokens\"] or (\"ids\" in f and np.frombuffer(got, dtype=\"<u2\").tolist() != f[\"ids\"]):
        print(\"differs:\", name); bad += 1
for s in d[\"strings\"]:
    args = sum(([\"-s\", x] for x in s[\"specials\"]), [])
    if run(args, s[\"text\"].encode()) != s[\"ids\"]:
        print(\"differs:\", repr(s[\"text\"])); bad += 1
sys.exit(bad)
"
'

test_expect_success PYTHON 'adversarial Unicode text: the ids of tiktoken gpt2' '
	for seed in 1 2 3; do
		py "open(\"adv$seed.txt\", \"w\", encoding=\"utf-8\").write(lt.adversarial($seed)); lt.encode_file(lt.gpt2(), \"adv$seed.txt\", \"adv$seed.expect\")" &&
		enc adv$seed.txt >adv$seed.out && test_cmp adv$seed.expect adv$seed.out || return 1
	done
'

test_expect_success PYTHON 'adversarial text with every byte pair a token: the ids of tiktoken' '
	py "lt.pairs_merges(\"pairs.bpe\")" &&
	for seed in 4 5; do
		py "open(\"p$seed.txt\", \"w\", encoding=\"utf-8\").write(lt.adversarial($seed)); lt.encode_file(lt.pairs(), \"p$seed.txt\", \"p$seed.expect\", \"<u4\")" &&
		bpe-encode --u32 -m pairs.bpe p$seed.txt >p$seed.out && test_cmp p$seed.expect p$seed.out || return 1
	done
'

test_expect_success PYTHON 'every code point alone, after a space, between letters' '
	py "
s = []
for c in range(0x110000):
    if 0xD800 <= c <= 0xDFFF: continue
    ch = chr(c)
    s.append(ch + \"\\n\" + \" \" + ch + \"\\n\" + \"a\" + ch + \"b \" + ch + ch + \"\\n\")
open(\"all.txt\", \"w\", encoding=\"utf-8\").write(\"\".join(s))
lt.encode_file(lt.gpt2(), \"all.txt\", \"all.expect\")
" &&
	"$LMPIPE_REL_BIN/bpe-encode" -m "$G/vocab.bpe" all.txt >all.out && test_cmp all.expect all.out
'

test_expect_success PYTHON 'contractions in mixed case and white space before words' '
	printf "I'"'"'LL I'"'"'ll she'"'"'S it'"'"'s '"'"''"'"'s x'"'"'re X'"'"'RE\n\n\n   \t  word\r\n\r\n  \302\240 word \342\200\250\n x \343\200\200y\n      " >ws.txt &&
	py "lt.encode_file(lt.gpt2(), \"ws.txt\", \"ws.expect\")" &&
	enc ws.txt >ws.out && test_cmp ws.expect ws.out
'

test_expect_success PYTHON 'overlapping specials: the longest first' '
	printf "a<|endoftext|><|endoftext|>b<|endoftext|>c" >sp.txt &&
	bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" -s "<|endoftext|><|endoftext|>" sp.txt |
		od -An -tu2 | xargs >out &&
	echo "64 50257 65 50256 66" >expect && test_cmp expect out
'

test_done
