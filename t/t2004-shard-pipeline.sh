#!/bin/bash
test_description='bpe-encode | shard: text to shards and back'
. ./lib-test.sh

# bpe-encode is another tool of the pipeline; until it is built this script
# skips with that reason (never a silent pass).
if command -v bpe-encode >/dev/null 2>&1 && [ -x "$LMPIPE_BIN/bpe-encode" ]; then
	test_set_prereq BPE_ENCODE
fi
eval "$(declare -f prereq_reason | sed '1s/^prereq_reason/lib_prereq_reason/')"
prereq_reason() {
	if [ "$1" = BPE_ENCODE ]; then echo "bpe-encode not built yet"; else lib_prereq_reason "$1"; fi
}

MERGES=$GPT2_DATA/vocab.bpe
CORPUS=$TEST_DATA/corpus/tinyshakespeare_head.txt
# tiktoken's gpt2 built offline from $GPT2_DATA (t/lib-tiktoken.py)
export TD=$TEST_DIRECTORY
PYENC='import sys, os, importlib; sys.path.insert(0, os.environ["TD"]); gpt2 = importlib.import_module("lib-tiktoken").gpt2()'
export PYENC
enc() { bpe-encode -m "$MERGES" -s "<|endoftext|>" "$@"; }

test_expect_success 'setup: 60 KB of Shakespeare' '
	head -c 60000 "$CORPUS" >text
'

# Until bpe-encode exists, tiktoken stands in for it: the same pipe, the
# same shards, decoded back to the text.
test_expect_success PYTHON 'tiktoken | shard -o t/: the shards decode to the text' '
	"$PYTHON" -c "$PYENC
import numpy as np
ids = gpt2.encode(open(\"text\", encoding=\"utf-8\").read())
sys.stdout.buffer.write(np.array(ids, dtype=\"<u2\").tobytes())" | shard -o t -n 5000 &&
	shard --info t/* >info && test $(grep -c ": 5,000 tokens" info) -ge 2 &&
	"$PYTHON" - <<-\PY
	import os; exec(os.environ["PYENC"])
	import glob, numpy as np
	files = sorted(glob.glob("t/*_val_*.bin")) + sorted(glob.glob("t/*_train_*.bin"))
	ids = np.concatenate([np.fromfile(f, dtype=np.uint16)[512:] for f in files]).tolist()
	assert gpt2.decode_bytes(ids) == open("text", "rb").read()
	PY
'

test_expect_success BPE_ENCODE 'bpe-encode | shard -o d/; shard --info d/*' '
	enc text | shard -o d -n 5000 &&
	shard --info d/* >info &&
	test $(grep -c "5,000 tokens" info) -ge 2 &&
	grep -q "^total: .* shards" info
'

test_expect_success BPE_ENCODE 'decoding the shards gives back the text' '
	for f in d/*_val_*.bin d/*_train_*.bin; do tail -c +1025 "$f" || return 1; done >tokens &&
	enc -d <tokens >back &&
	cmp text back
'

test_expect_success BPE_ENCODE,PYTHON 'the shards hold tiktoken gpt2 ids' '
	"$PYTHON" - <<-\PY
	import os; exec(os.environ["PYENC"])
	import glob, numpy as np
	files = sorted(glob.glob("d/*_val_*.bin")) + sorted(glob.glob("d/*_train_*.bin"))
	got = np.concatenate([np.fromfile(f, dtype=np.uint16)[512:] for f in files]).tolist()
	want = gpt2.encode(open("text", encoding="utf-8").read(), allowed_special="all")
	assert got == want, (len(got), len(want))
	PY
'

test_expect_success BPE_ENCODE 'compressed shards decode the same' '
	enc text | shard -o z -n 5000 --zstd &&
	for f in z/*_val_*.zst z/*_train_*.zst; do zstd -q -d -c "$f" | tail -c +1025 || return 1; done >ztokens &&
	cmp tokens ztokens
'

test_done
