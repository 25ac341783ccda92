#!/bin/bash
test_description='lm-train: the checkpoints carry the run'"'"'s tokenizer; a resume from elsewhere'
. ./lib-test.sh

. "$TEST_DIRECTORY/lib-train.sh"

MODEL="--model d1 --vocab 300 --ctx 32 --batch-tokens 256 -b 8 --eval-every 0 --sample-every 0"
EOT="<|endoftext|>"

# text of N lines in which a small BPE finds merges
sentences() {
	for i in $(seq "$1"); do
		echo "the $2 brown fox $i jumps over the lazy dog, and the cat sat on the mat"
	done
}

# sample DIR/CKPT [--tokenizer FILE]: 16 tokens after "the quick", on stdout
sample() {
	lm-sample "$@" -p "the quick" -n 16 --seed 1 -t 1 -k 40 --device cpu
}

test_expect_success 'set up a tokenizer, its rank table and shards' '
	mkdir work &&
	sentences 400 quick >text &&
	bpe-learn -v 300 -s "$EOT" -o work/merges text &&
	test-tool tokranks --from-merges work/merges >work/merges.tiktoken &&
	bpe-encode -m work/merges -s "$EOT" text >ids &&
	shard -o work/data --val-tokens 1000 <ids
'

test_expect_success 'a run with --merges: its checkpoint decodes with that tokenizer' '
	(cd work && lm-train data $MODEL --merges merges -s "$EOT" --steps 3 -o a 2>err) &&
	sample work/a/ckpt.safetensors >ours &&
	sample work/a/ckpt.safetensors --tokenizer work/merges >theirs &&
	test -s ours && test_cmp theirs ours
'

test_expect_success 'lm-train --model CKPT without --merges: the checkpoints carry CKPT'"'"'s tokenizer' '
	(cd work && lm-train data --model a/ckpt.safetensors --batch-tokens 256 -b 8 \
		--eval-every 0 --sample-every 0 --steps 2 -o b 2>err) &&
	sample work/b/ckpt.safetensors >ours &&
	sample work/b/ckpt.safetensors --tokenizer work/merges >theirs &&
	test_cmp theirs ours
'

test_expect_success '... and so do those of its resume' '
	(cd work && lm-train --resume b --steps 4 2>err) &&
	test "$(readlink work/b/ckpt.safetensors)" = ckpt_00000004.safetensors &&
	sample work/b/ckpt.safetensors >ours &&
	sample work/b/ckpt.safetensors --tokenizer work/merges >theirs &&
	test_cmp theirs ours
'

test_expect_success '--merges takes a .tiktoken rank table: the same checkpoint as its merges file' '
	(cd work && lm-train data $MODEL --merges merges.tiktoken -s "$EOT" --steps 3 -o tk 2>err) &&
	cmp work/a/ckpt_00000003.safetensors work/tk/ckpt_00000003.safetensors
'

test_expect_success 'set up, elsewhere, a decoy data/ of the same shape and a decoy merges' '
	mkdir elsewhere &&
	sentences 400 slow >decoy.text &&
	bpe-learn -v 290 -s "$EOT" -o elsewhere/merges decoy.text &&
	test-tool train stream $(($(wc -c <ids) / 2)) 290 5 | shard -o elsewhere/data --val-tokens 1000 &&
	ls work/data >a && ls elsewhere/data >b && test_cmp a b &&
	! cmp -s work/data/$(head -1 a) elsewhere/data/$(head -1 a)
'

test_expect_success 'the run'"'"'s paths are kept absolute' '
	(cd work && lm-train data $MODEL --merges merges -s "$EOT" --steps 8 -o full 2>err &&
	 lm-train data $MODEL --merges merges -s "$EOT" --steps 4 --cosine-steps 8 -o part 2>err) &&
	test-tool train state work/part/ckpt_00000004.state >state &&
	grep "\"data\":\"$PWD/work/data\"" state &&
	grep "\"merges\":\"$PWD/work/merges\"" state
'

test_expect_success 'resumed from elsewhere, the run trains on its own data with its own tokenizer' '
	(cd elsewhere && lm-train --resume ../work/part --steps 8 2>err) &&
	losses work/full/log.jsonl >full.losses &&
	losses work/part/log.jsonl >part.losses &&
	test $(wc -l <full.losses) = 8 &&
	cmp full.losses part.losses &&
	sample work/part/ckpt.safetensors >ours &&
	sample work/part/ckpt.safetensors --tokenizer work/merges >theirs &&
	test_cmp theirs ours
'

test_done
