#!/bin/bash
test_description='share/eval/hellaswag: the JSONL and llama.cpp text forms, llmc and harness styles'
. ./lib-test.sh

# Three items in the official rowanz format (hand-written, one a line).
test_expect_success 'set up JSONL items in the official format' '
	cat >val.jsonl <<-\EOF &&
	{"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.", "ctx_b": "he", "ctx": "A man is sitting on a roof. he", "split": "val", "split_type": "indomain", "label": 3, "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.", "is holding a rubik'"'"'s cube.", "starts pulling up roofing on a roof."], "source_id": "activitynet~v_-JhWjGDPHMY"}
	{"ind": 4, "activity_label": "Home and Garden", "ctx_a": "[header] How to fix a gate [title] Check the hinges.", "ctx_b": "YOU may  need a [step] screwdriver", "ctx": "[header] How to fix a gate [title] Check the hinges. YOU may  need a [step] screwdriver", "split": "val", "split_type": "zeroshot", "label": "0", "endings": [" tighten them  [substeps] firmly. ", "caf\u00e9 [title] open it", "x", "done  [x"], "source_id": "wikihow~1"}

	{"ind": 5, "activity_label": "Sports", "ctx_a": "A boy runs.", "ctx_b": "", "ctx": "A boy runs. ", "label": 1, "endings": ["a", "b", "c", "d"]}
	EOF
	test-tool eval count val.jsonl >out &&
	printf "3 items, form jsonl\nlabel 0: 1\nlabel 1: 1\nlabel 2: 0\nlabel 3: 1\n" >expect &&
	test_cmp expect out
'

test_expect_success 'llmc style: context = ctx, endings as they are' '
	test-tool eval hellaswag -s llmc val.jsonl >out &&
	sed -n 2p out >ctx && echo "ctx: [header] How to fix a gate [title] Check the hinges. YOU may  need a [step] screwdriver" >expect &&
	sed -n 9p out >ctx2 && test_cmp expect ctx2 &&
	grep -q "^e0:  tighten them  \[substeps\] firmly. \$" out
'

test_expect_success 'harness style: preprocess(activity_label: ctx_a + ctx_b.capitalize())' '
	test-tool eval hellaswag -s harness val.jsonl >out &&
	cat >expect <<-\EOF &&
	@0 line 1 label 3
	ctx: Roof shingle removal: A man is sitting on a roof. He
	e0: is using wrap to wrap a pair of skis.
	e1: is ripping level tiles off.
	e2: is holding a rubik'"'"'s cube.
	e3: starts pulling up roofing on a roof.
	37 27 26 36
	@1 line 2 label 0
	ctx: Home and Garden: How to fix a gate. Check the hinges. You may need a screwdriver
	e0: tighten them  firmly.
	e1: café. open it
	e2: x
	e3: done [x
	21 13 1 7
	@2 line 4 label 1
	ctx: Sports: A boy runs.
	e0: a
	e1: b
	e2: c
	e3: d
	1 1 1 1
	EOF
	test_cmp expect out
'

test_expect_success PYTHON 'harness style equals lm-evaluation-harness preprocessing in Python' '
	"$PYTHON" - val.jsonl >expect <<-\PY &&
	import json, re, sys
	def preprocess(text):
	    text = text.strip()
	    text = text.replace(" [title]", ". ")
	    text = re.sub("\\[.*?\\]", "", text)
	    text = text.replace("  ", " ")
	    return text
	n = 0
	for i, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
	    if not line.strip(): continue
	    d = json.loads(line)
	    ctx = d["ctx_a"] + " " + d["ctx_b"].capitalize()
	    ends = [preprocess(e) for e in d["endings"]]
	    print(f"@{n} line {i} label {int(d['"'"'label'"'"'])}")
	    print("ctx: " + preprocess(d["activity_label"] + ": " + ctx))
	    for j, e in enumerate(ends): print(f"e{j}: {e}")
	    print(" ".join(str(len(e)) for e in ends))
	    n += 1
	PY
	test-tool eval hellaswag -s harness val.jsonl >out &&
	test_cmp expect out
'

test_expect_success 'preprocess: one pass of double spaces, unclosed bracket kept' '
	test-tool eval preprocess "  a [title] b [header] c  d   e [x " >out &&
	echo "a. b c d  e [x|" >expect && test_cmp expect out
'

test_expect_success 'malformed JSONL: errors name the file and line' '
	sed "2s/\"label\": \"0\"/\"label\": 7/" val.jsonl >bad.jsonl &&
	test_must_fail test-tool eval count bad.jsonl 2>err &&
	grep -q "bad.jsonl'"'"' line 2: label must be 0..3" err &&
	sed "1s/\"ctx_b\": \"he\", //" val.jsonl >bad.jsonl &&
	test_must_fail test-tool eval count bad.jsonl 2>err &&
	grep -q "line 1: missing string field ctx_b" err &&
	sed "4s/, \"d\"\]/]/" val.jsonl >bad.jsonl &&
	test_must_fail test-tool eval count bad.jsonl 2>err &&
	grep -q "line 4: endings must be an array of 4 strings" err &&
	{ head -n 1 val.jsonl; echo "{not json"; } >bad.jsonl &&
	test_must_fail test-tool eval count bad.jsonl 2>err &&
	grep -q "line 2: not a JSON object" err
'

test_expect_success 'the text form: 6 lines an item; llmc drops the activity label' '
	cat >val.txt <<-\EOF &&
	Roof shingle removal: A man is sitting on a roof. he
	3
	is using wrap to wrap a pair of skis.
	is ripping level tiles off.
	is holding a rubik'"'"'s cube.
	starts pulling up roofing on a roof.
	EOF
	test-tool eval hellaswag -s llmc val.txt >out &&
	sed -n 2p out >ctx && echo "ctx: A man is sitting on a roof. he" >expect && test_cmp expect ctx &&
	test-tool eval hellaswag -s harness val.txt >out &&
	sed -n 2p out >ctx && echo "ctx: Roof shingle removal: A man is sitting on a roof. he" >expect &&
	test_cmp expect ctx
'

test_expect_success 'malformed text form: bad label, truncated item' '
	sed "2s/3/5/" val.txt >bad.txt &&
	test_must_fail test-tool eval count bad.txt 2>err &&
	grep -q "bad.txt'"'"' line 2: label must be 0..3, got '"'"'5'"'"'" err &&
	head -n 4 val.txt >bad.txt &&
	test_must_fail test-tool eval count bad.txt 2>err && grep -q "truncated at line 1" err &&
	: >empty.txt && test_must_fail test-tool eval count empty.txt 2>err &&
	grep -q "no HellaSwag items" err
'

test_expect_success 'the validation set (bz2, its first 100 items): the items and labels awk counts' '
	HS="$TEST_DATA/hellaswag/hellaswag_val_head.txt.bz2" &&
	test-tool eval count "$HS" >out &&
	bzip2 -dc "$HS" | awk "NR % 6 == 2 { n[\$1]++; items++ }
		END { printf \"%d items, form text\\n\", items; for (l = 0; l < 4; l++) printf \"label %d: %d\\n\", l, n[l] }" >expect &&
	test_cmp expect out && grep -x "100 items, form text" out &&
	test-tool eval hellaswag -n 1 "$HS" >out &&
	head -n 2 out >first && printf "@0 line 1 label 3\nctx: A man is sitting on a roof. he\n" >expect &&
	test_cmp expect first
'

test_done
