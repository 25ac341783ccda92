#!/bin/bash
test_description='lm-eval hellaswag and loss against transformers on a tiny random GPT-2'
. ./lib-test.sh

REF="$TOP/t/py/eval_ref.py"
# The item-by-item comparisons run the optimized build (a forward through
# GPT-2's 50257-wide head is slow under ASan); the sanitized lm-eval runs the
# same path on fewer items below.
REL="$LMPIPE_REL_BIN"
MERGES="$GPT2_DATA/vocab.bpe"

# Per-item choices must be identical; losses within 1e-4 relative (the sums
# of ~10 float32 log-probabilities of size ~10: float32 rounding of the
# logits is ~1e-6 relative, so 1e-4 leaves a wide margin while a wrong token,
# position or normalization moves a loss by whole percents).
compare() {
	"$PYTHON" - "$1" "$2" <<-\PY
	import json, sys
	ours = json.load(open(sys.argv[1]))["items"]
	ref = [json.loads(l) for l in open(sys.argv[2])]
	assert len(ours) == len(ref), (len(ours), len(ref))
	for a, b in zip(ours, ref):
	    for k in ("index", "label", "pred", "pred_norm", "ntok", "nchar"):
	        assert a[k] == b[k], (a["index"], k, a[k], b[k])
	    for x, y in zip(a["loss"], b["loss"]):
	        assert abs(x - y) <= 1e-4 * abs(y), (a["index"], x, y)
	print("ok", len(ours))
	PY
}

test_expect_success PYTHON 'set up a tiny random GPT2LMHeadModel and 20 items' '
	bzip2 -dc "$TEST_DATA/hellaswag/hellaswag_val_head.txt.bz2" | head -n 120 >hs.txt &&
	cat >hs.jsonl <<-\EOF
	{"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.", "ctx_b": "he", "ctx": "A man is sitting on a roof. he", "split": "val", "split_type": "indomain", "label": 3, "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.", "is holding a rubik'"'"'s cube.", "starts pulling up roofing on a roof."], "source_id": "activitynet~v_-JhWjGDPHMY"}
	{"ind": 4, "activity_label": "Home and Garden", "ctx_a": "[header] How to fix a gate [title] Check the hinges.", "ctx_b": "you may need a [step] screwdriver", "ctx": "[header] How to fix a gate [title] Check the hinges. you may need a [step] screwdriver", "split": "val", "split_type": "zeroshot", "label": "0", "endings": ["tighten them  [substeps] firmly.", "caf\u00e9 [title] open it", "oil the hinge with a cloth.", "paint the gate  blue."], "source_id": "wikihow~1"}
	EOF
'

# One Python process makes the model and every reference (each import of
# transformers costs seconds); the loss shards are written first.
test_expect_success PYTHON 'the transformers references, in one process' '
	"$PYTHON" -c "
import numpy as np
rng = np.random.default_rng(5)
for name, n in ((\"t_val_000000.bin\", 700), (\"t_val_000001.bin\", 300)):
    h = np.zeros(256, np.int32); h[:3] = (20240520, 1, n)
    with open(name, \"wb\") as f:
        f.write(h.tobytes()); f.write(rng.integers(0, 50257, n).astype(np.uint16).tobytes())
" &&
	cat >jobs <<-\EOF &&
	model.out model tiny
	ref-llmc-txt.jsonl hellaswag tiny hs.txt --style llmc --limit 12
	ref-llmc-jsonl.jsonl hellaswag tiny hs.jsonl --style llmc
	ref-harness-txt.jsonl hellaswag tiny hs.txt --style harness --limit 12
	ref-harness-jsonl.jsonl hellaswag tiny hs.jsonl --style harness
	ref-loss.json loss tiny t_val_000000.bin t_val_000001.bin
	EOF
	"$PYTHON" "$REF" batch jobs
'

for style in llmc harness; do
	test_expect_success PYTHON "hellaswag --style $style, text form: per-item choices equal transformers" "
		\"\$REL/lm-eval\" hellaswag tiny --device cpu --data hs.txt --style $style --limit 12 -v --json \
			--tokenizer '$MERGES' >ours.json &&
		compare ours.json ref-$style-txt.jsonl
	"
	test_expect_success PYTHON "hellaswag --style $style, JSONL form: per-item choices equal transformers" "
		\"\$REL/lm-eval\" hellaswag tiny --device cpu --data hs.jsonl --style $style -v --json \
			--tokenizer '$MERGES' >ours.json &&
		compare ours.json ref-$style-jsonl.jsonl
	"
done

test_expect_success PYTHON 'the text output says the form and the counts (sanitized build)' '
	lm-eval hellaswag tiny --device cpu --data hs.txt --limit 3 --tokenizer "$MERGES" >out &&
	grep -q "^hellaswag: 3 items" out && grep -q "llama.cpp.s preprocessed text form" out &&
	grep -q "^acc      0\.[0-9]* ([0-9]*/3)" out && grep -q "^acc_norm " out &&
	lm-eval hellaswag tiny --device cpu --data hs.txt --limit 3 -v --json --tokenizer "$MERGES" >san.json &&
	"$REL/lm-eval" hellaswag tiny --device cpu --data hs.txt --limit 3 -v --json --tokenizer "$MERGES" >rel.json &&
	"$PYTHON" -c "
import json
a, b = json.load(open(\"san.json\")), json.load(open(\"rel.json\"))
assert [(x[\"pred\"], x[\"pred_norm\"]) for x in a[\"items\"]] == [(x[\"pred\"], x[\"pred_norm\"]) for x in b[\"items\"]]
" &&
	lm-eval hellaswag tiny --device cpu --data hs.jsonl --tokenizer "$MERGES" >out &&
	grep -q "official JSONL" out
'

test_expect_success PYTHON 'loss: equal to transformers on the same windows' '
	lm-eval loss tiny --device cpu --json t_val_000000.bin t_val_000001.bin >ours.json &&
	"$PYTHON" -c "
import json, math
a, b = json.load(open(\"ours.json\")), json.load(open(\"ref-loss.json\"))
assert a[\"tokens\"] == b[\"tokens\"] == 3 * 256, (a, b)
assert abs(a[\"loss\"] - b[\"loss\"]) <= 1e-5 * b[\"loss\"], (a, b)
assert abs(a[\"perplexity\"] - math.exp(b[\"loss\"])) <= 1e-4 * a[\"perplexity\"]
"
'

test_expect_success 'no arguments: usage error' 'test_expect_code 2 lm-eval'
test_expect_success 'an unknown command: usage error' 'test_expect_code 2 lm-eval frobnicate x'
test_expect_success 'an unknown style: usage error' 'test_expect_code 2 lm-eval hellaswag x --style nope'
test_expect_success 'a missing data file: runtime error' 'test_expect_code 1 lm-eval hellaswag x --data no-such.jsonl'
test_expect_success 'an unknown --device: usage error' 'test_expect_code 2 lm-eval loss x --device tpu y'

# No GPU in sight (CUDA_VISIBLE_DEVICES empty), so on a GPU and on the
# CUDA emulation too.
test_expect_success PYTHON '--device cuda without a GPU (or CUDA) names the cause' '
	test_must_fail env CUDA_VISIBLE_DEVICES= lm-eval loss tiny --device cuda t_val_000000.bin 2>err &&
	grep -E "lm-eval: --device cuda: (no CUDA GPU found|this build has no CUDA)" err
'

test_expect_success 'the error names the missing file; --help names the default data' '
	test_must_fail lm-eval hellaswag no-such-ckpt --data no-such.jsonl 2>err &&
	grep -q "no-such.jsonl" err &&
	lm-eval --help >out && grep -q "hellaswag_val.jsonl" out
'

test_done
