#!/bin/bash
test_description='HellaSwag items longer than the model'"'"'s context keep their last tokens (lm-eval, lm-train)'
. ./lib-test.sh

EOT="<|endoftext|>"
# a model of context 64, as in the README's example
MODEL="--model d1 --vocab 300 --ctx 64 --batch-tokens 512 -b 8 --eval-tokens 512 --sample-every 0"

# an ending of about 150 tokens: words the tokenizer has few merges for
long_ending() {
	for i in 1 2 3 4 5; do printf "%s %s quilts vex jumpy wizards%s " "$1" "$i" "${2:-}"; done
	printf "and %s." "$1"
}

# one item: index, context, label, then four endings
item() {
	printf '{"ind": %d, "activity_label": "Act", "ctx_a": "%s", "ctx_b": "", "ctx": "%s", ' \
		"$1" "$2" "$2"
	printf '"split": "val", "split_type": "indomain", "label": %d, ' "$3"
	printf '"endings": ["%s", "%s", "%s", "%s"], "source_id": "t~%d"}\n' "$4" "$5" "$6" "$7" "$1"
}

test_expect_success 'set up a tokenizer, shards, a model of context 64 and long items' '
	for i in $(seq 400); do
		echo "the quick brown fox $i jumps over the lazy dog, and the cat sat on the mat"
	done >text &&
	bpe-learn -v 300 -s "$EOT" -o merges text &&
	bpe-encode -m merges -s "$EOT" text | shard -o data --val-tokens 2000 &&
	lm-train data $MODEL --merges merges -s "$EOT" --steps 2 --eval-every 0 -o run 2>err &&
	a=$(long_ending zebra) b=$(long_ending yak ",") c=$(long_ending gnu ";") d=$(long_ending ox !) &&
	{
		item 1 "The quick brown fox" 0 "$a" "$b" "$c" "$d" &&
		item 2 "A cat sat on the mat, and then a dog came by to see what it was" 2 "$a" "$b" "$c" "$d" &&
		item 3 "Short" 1 "jumps." "sleeps." "$c" "runs away."
	} >hs.jsonl &&
	bpe-encode -m merges -s "$EOT" <<<" $a" | od -An -tu2 | wc -w >n &&
	test $(cat n) -gt 100
'

for style in llmc harness; do
	test_expect_success "lm-eval hellaswag ($style): the item is scored on its last 64 tokens" '
		lm-eval hellaswag run/ckpt.safetensors --data hs.jsonl --style '$style' -v \
			--device cpu >out 2>err &&
		cat out &&
		test $(grep -c "^[0-9] label" out) = 3 &&
		# the endings alone fill the context: the two contexts do not count
		sed -n "s/^0 label 0 pred [0-9] pred_norm [0-9] loss //p" out >one &&
		sed -n "s/^1 label 2 pred [0-9] pred_norm [0-9] loss //p" out >two &&
		test -s one && test_cmp one two &&
		grep "^0 label 0 .*/64 .*/64 .*/64 .*/64$" out &&
		grep "^2 label 1 .*/64 " out
	'
done

test_expect_success 'lm-train scores them at each evaluation, and goes on' '
	lm-train data $MODEL --merges merges -s "$EOT" --steps 2 --eval-every 1 \
		--hellaswag hs.jsonl -o hs 2>err &&
	grep -a "hellaswag 0\.[0-9]* acc_norm on 3 items" err &&
	test $(grep -c "\"hellaswag\":[0-9]" hs/log.jsonl) = 3 &&
	lm-eval hellaswag hs/ckpt.safetensors --data hs.jsonl --json --device cpu >eval.json &&
	grep -o "\"acc_norm\": *[0-9.e-]*" eval.json | sed "s/.*: *//" >theirs &&
	grep "\"step\":2,.*\"hellaswag\":" hs/log.jsonl |
		sed "s/.*\"hellaswag\":\([0-9.e-]*\).*/\1/" >ours &&
	# the log keeps 9 digits
	awk "NR == FNR { a = \$1; next } { d = a - \$1; exit !(d < 1e-8 && d > -1e-8) }" theirs ours
'

test_done
