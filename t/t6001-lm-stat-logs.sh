#!/bin/bash
test_description='lm-stat LOG...: run summaries and --plot curves'
. ./lib-test.sh

# A small log: 4 steps, evals at 2 and 4, written as lm-train writes it.
write_log() {
	mkdir -p "$1" && cat >"$1/log.jsonl" <<-\EOT
	{"run":"tiny","config":{"family":"gpt2","n_layer":2}}
	{"step":1,"tokens":1000,"loss":5,"lr":0.001,"grad_norm":2,"ms":100,"tok_s":10000,"mfu":0.01}
	{"step":2,"tokens":2000,"loss":4,"lr":0.002,"grad_norm":1.5,"ms":100,"tok_s":20000,"mfu":0.02}
	{"step":2,"tokens":2000,"val_loss":4.5}
	{"step":3,"tokens":3000,"loss":3,"lr":0.002,"grad_norm":1,"ms":100,"tok_s":30000,"mfu":0.03}
	{"step":4,"tokens":4000,"loss":2,"lr":0.001,"grad_norm":1,"ms":100,"tok_s":40000,"mfu":0.04}
	{"step":4,"tokens":4000,"val_loss":4.7,"hellaswag":0.26}
	EOT
}

test_expect_success 'summary: steps, tokens, last and best val loss, medians' '
	write_log a &&
	lm-stat a/log.jsonl >actual &&
	cat >expect <<-\EOT &&
	run                     steps     tokens train loss  best val (step)  last val hellaswag      tok/s    MFU
	tiny                        4     4.00 K     3.5000       4.5000 (2)    4.7000    0.2600     30.0 K   3.0%
	EOT
	test_cmp expect actual
'

test_expect_success PYTHON 'summary as JSON' '
	lm-stat --json a/log.jsonl >out.json &&
	"$PYTHON" -c "
import json; d = json.load(open(\"out.json\"))[0]
assert d[\"run\"] == \"tiny\" and d[\"steps\"] == 4 and d[\"best_val_step\"] == 2, d
assert abs(d[\"best_val_loss\"] - 4.5) < 1e-12 and abs(d[\"tok_s\"] - 30000) < 1e-9, d
"
'

test_expect_success 'a resumed run: repeated steps replace the first attempt' '
	write_log r && sed -n "1,4p" r/log.jsonl >r/resumed &&
	cat >>r/resumed <<-\EOT &&
	{"step":3,"tokens":3000,"loss":9,"lr":0.002,"ms":100,"tok_s":30000,"mfu":0.03}
	{"run":"tiny","config":{"family":"gpt2","n_layer":2}}
	{"step":3,"tokens":3000,"loss":3,"lr":0.002,"ms":100,"tok_s":30000,"mfu":0.03}
	{"step":4,"tokens":4000,"loss":2,"lr":0.001,"ms":100,"tok_s":40000,"mfu":0.04}
	{"step":4,"tokens":4000,"val_loss":4.7,"hellaswag":0.26}
	EOT
	mv r/resumed r/log.jsonl && lm-stat a/log.jsonl >expect && lm-stat r/log.jsonl >actual &&
	test_cmp expect actual
'

test_expect_success 'several runs side by side; a run without a run line is named by its directory' '
	write_log a && mkdir -p lr-sweep && grep -v "\"run\"" a/log.jsonl >lr-sweep/log.jsonl &&
	lm-stat a/log.jsonl lr-sweep/log.jsonl >out &&
	test $(wc -l <out) = 3 && grep -q "^lr-sweep " out
'

test_expect_success PYTHON '--plot writes an SVG with a curve a run and its eval dots' '
	write_log a && write_log b &&
	lm-stat --plot -o curves.svg a/log.jsonl b/log.jsonl &&
	"$PYTHON" -c "
import xml.etree.ElementTree as ET
root = ET.parse(\"curves.svg\").getroot()
ns = \"{http://www.w3.org/2000/svg}\"
paths = root.findall(ns + \"path\"); dots = root.findall(ns + \"circle\")
# two runs: train and val loss, and lr, for each
assert len(paths) == 6, len(paths)
assert len(dots) == 4, len(dots)
texts = [t.text for t in root.iter(ns + \"text\")]
assert \"tiny train\" in texts and \"tiny val\" in texts and \"tokens\" in texts, texts
"
'


# With librsvg (make deps installs it) a .png is rendered; without, it is a
# clear error and no file. Whichever this build is, it is checked.
test_expect_success PYTHON '--plot -o FILE.png: a PNG of the figure, or a clear error without librsvg' '
	write_log a &&
	if test_have_prereq RSVG; then
		lm-stat --plot -o curves.png a/log.jsonl &&
		"$PYTHON" -c "
import struct
d = open(\"curves.png\", \"rb\").read()
assert d[:8] == b\"\\x89PNG\\r\\n\\x1a\\n\", d[:8]
w, h = struct.unpack(\">II\", d[16:24])
assert (w, h) == (900, 600), (w, h)
"
	else
		test_must_fail lm-stat --plot -o curves.png a/log.jsonl 2>err &&
		grep -q "PNG needs lmpipe built with librsvg" err && test ! -e curves.png
	fi
'

test_expect_success 'errors: not a log, a missing file, --plot without -o, nothing to do' '
	echo "not json" >bad.jsonl &&
	test_must_fail lm-stat bad.jsonl 2>err && grep -q "^lm-stat: .bad.jsonl. line 1: not a JSON object" err &&
	test_must_fail lm-stat missing.jsonl 2>err && grep -q "cannot open .missing.jsonl." err &&
	write_log a && { lm-stat --plot a/log.jsonl 2>err; test $? = 2; } && grep -q "needs -o" err &&
	{ lm-stat 2>err; test $? = 2; } && grep -q "nothing to do" err &&
	test_must_fail lm-stat --plot -o none.svg a/log.jsonl bad.jsonl 2>err &&
	test ! -e none.svg
'

test_expect_success 'a directory or an empty log is an error, not a row of zeros' '
	write_log a &&
	test_must_fail lm-stat a >out 2>err &&
	test_error_mentions err "lm-stat: cannot read" "Is a directory" &&
	! test -s out &&
	: >empty.jsonl &&
	test_must_fail lm-stat empty.jsonl >out 2>err &&
	test_error_mentions err "lm-stat: " "empty.jsonl" "an empty log" &&
	! test -s out &&
	printf "\n  \n" >blank.jsonl &&
	test_must_fail lm-stat --plot -o blank.svg blank.jsonl 2>err &&
	test_error_mentions err "an empty log" &&
	! test -e blank.svg
'

test_expect_success 'a log with only its run line is a run of 0 steps' '
	head -n 1 a/log.jsonl >started.jsonl &&
	lm-stat started.jsonl >out &&
	grep -q "^tiny  *0 " out
'

test_done
