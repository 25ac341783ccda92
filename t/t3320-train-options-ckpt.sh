#!/bin/bash
test_description='share/train: the run options (JSON form, resume rules, damaged saved options), the checkpoint finder, lm-train'"'"'s command line'
. ./lib-test.sh

SMALL="--model d1 --vocab 64 --ctx 16 --batch-tokens 128 -b 4 --eval-every 0"

# ---- the options' JSON form ---------------------------------------------------------

# every numeric option off its default, and every string set
test_expect_success 'set up saved options' '
	test-tool train opts-json data=/d --batch-tokens=256 --micro-batch=2 --steps=100 \
		--lr=3e-4 --lr-min=3e-5 --warmup=5 --cosine-steps=90 --weight-decay=0.2 \
		--beta1=0.8 --beta2=0.9 --eps=1e-6 --grad-clip=0.5 --seed=7 --eval-every=20 \
		--eval-tokens=1M --sample-every=50 --ckpt-every=10 --keep=0 --hellaswag-limit=10 \
		--peak=2e12 --device=cuda --merges=/m.merges -s="<|endoftext|>" -s="<|pad|>" \
		--sample-prompt="Once upon" --hellaswag=/h.jsonl >saved.json &&
	grep "\"batch_tokens\":256," saved.json &&
	grep "\"specials\":\[\"<|endoftext|>\",\"<|pad|>\"\]" saved.json
'

test_expect_success 'a resume with nothing typed takes every saved option: the JSON form round-trips' '
	test-tool train opts-resume saved.json >resumed.json &&
	test_cmp saved.json resumed.json
'

# ---- the rules of a resume ----------------------------------------------------------

test_expect_success 'each numeric option typed again: overridden, or refused when the data order rests on it' '
	cat >expect <<-\EOF &&
	--batch-tokens refused, the run'"'"'s value again resumes
	--micro-batch overridden, the run'"'"'s value again resumes
	--steps overridden, the run'"'"'s value again resumes
	--tokens not kept, the run'"'"'s value again resumes
	--lr overridden, the run'"'"'s value again resumes
	--lr-min overridden, the run'"'"'s value again resumes
	--warmup overridden, the run'"'"'s value again resumes
	--cosine-steps overridden, the run'"'"'s value again resumes
	--weight-decay overridden, the run'"'"'s value again resumes
	--beta1 overridden, the run'"'"'s value again resumes
	--beta2 overridden, the run'"'"'s value again resumes
	--eps overridden, the run'"'"'s value again resumes
	--grad-clip overridden, the run'"'"'s value again resumes
	--seed refused, the run'"'"'s value again resumes
	--eval-every overridden, the run'"'"'s value again resumes
	--eval-tokens overridden, the run'"'"'s value again resumes
	--sample-every overridden, the run'"'"'s value again resumes
	--ckpt-every overridden, the run'"'"'s value again resumes
	--keep overridden, the run'"'"'s value again resumes
	--hellaswag-limit overridden, the run'"'"'s value again resumes
	--peak overridden, the run'"'"'s value again resumes
	EOF
	test-tool train opts-rules saved.json >actual &&
	test_cmp expect actual
'

test_expect_success 'a refused option names the flag and the run'"'"'s value' '
	test_expect_code 1 test-tool train opts-resume saved.json --seed=8 2>err &&
	test_error_mentions err "--seed differs from the run'"'"'s 7" "data order" &&
	test_expect_code 1 test-tool train opts-resume saved.json --batch-tokens=512 2>err &&
	test_error_mentions err "--batch-tokens differs from the run'"'"'s 256"
'

# the strings of resumed.json after a resume with ARGS, one "KEY VALUE" a line
strings_after() {
	test-tool train opts-resume saved.json "$@" >after.json &&
	for k in data device merges sample_prompt hellaswag specials; do
		printf "%s " $k && grep -o "\"$k\":\(\"[^\"]*\"\|\[[^]]*\]\)" after.json | cut -d: -f2-
	done
}

test_expect_success 'the strings: typed now wins, else the saved one' '
	strings_after >actual &&
	cat >expect <<-\EOF &&
	data "/d"
	device "cuda"
	merges "/m.merges"
	sample_prompt "Once upon"
	hellaswag "/h.jsonl"
	specials ["<|endoftext|>","<|pad|>"]
	EOF
	test_cmp expect actual &&
	strings_after data=/e --device=cpu --merges=/n.merges -s=x --sample-prompt=Hi \
		--hellaswag=/g.jsonl >actual &&
	cat >expect <<-\EOF &&
	data "/e"
	device "cpu"
	merges "/n.merges"
	sample_prompt "Hi"
	hellaswag "/g.jsonl"
	specials ["x"]
	EOF
	test_cmp expect actual
'

test_expect_success '--gpus typed keeps the saved device out (it means cuda itself)' '
	test-tool train opts-json data=/d --lr-min=0 >default.json &&
	grep -o "\"device\":\"[a-z]*\"" default.json >expect &&
	test-tool train opts-json data=/d --lr-min=0 --device=cuda >cuda.json &&
	test-tool train opts-resume cuda.json --gpus=2 >after.json &&
	grep -o "\"device\":\"[a-z]*\"" after.json >actual &&
	test_cmp expect actual &&
	test-tool train opts-resume cuda.json >after.json &&
	grep "\"device\":\"cuda\"" after.json
'

# ---- damaged saved options ----------------------------------------------------------

# refused FILE-TEXT WORD...: saved options FILE-TEXT refused, exit 1, every WORD said
refused() {
	printf "%s" "$1" >damaged.json && shift &&
	test_expect_code 1 test-tool train opts-resume damaged.json 2>err &&
	test_error_mentions err "damaged.json" "$@"
}

test_expect_success 'saved options that are not JSON, cut short, or not an object' '
	refused "" "bad options" &&
	refused "$(head -c 100 saved.json)" "bad options" &&
	refused "[1, 2]" "no \"batch_tokens\"" &&
	refused "{}" "no \"batch_tokens\""
'

test_expect_success 'a saved number that is missing, mistyped or out of range' '
	refused "$(sed "s/\"keep\":0,//" saved.json)" "no \"keep\"" &&
	refused "$(sed "s/\"keep\":0/\"keep\":\"0\"/" saved.json)" "\"keep\" is not a number" &&
	refused "$(sed "s/\"keep\":0/\"keep\":-1/" saved.json)" "\"keep\"" &&
	refused "$(sed "s/\"micro_batch\":2/\"micro_batch\":0/" saved.json)" "\"micro_batch\"" "out of range" &&
	refused "$(sed "s/\"peak\":[^,]*/\"peak\":0/" saved.json)" "\"peak\"" "positive" &&
	refused "$(sed "s/\"ctx\":64/\"ctx\":-64/" saved.json)" "\"ctx\""
'

test_expect_success 'a saved string that is missing or mistyped' '
	refused "$(sed "s/\"data\":\"\/d\",//" saved.json)" "no \"data\"" &&
	refused "$(sed "s/\"merges\":\"[^\"]*\"/\"merges\":1/" saved.json)" "\"merges\" is not a string" &&
	refused "$(sed "s/\"device\":\"cuda\"/\"device\":\"tpu\"/" saved.json)" "\"device\"" "tpu" &&
	refused "$(sed "s/\"specials\":\[[^]]*\]/\"specials\":[\"\"]/" saved.json)" "\"specials\"" &&
	many=$(for i in $(seq 65); do printf "\"t%d\"," $i; done) &&
	refused "$(sed "s/\"specials\":\[[^]]*\]/\"specials\":[${many%,}]/" saved.json)" \
		"\"specials\"" "at most 64"
'

# ---- checkpoints ----------------------------------------------------------------------

test_expect_success 'when a checkpoint is due' '
	cat >expect <<-\EOF &&
	4 2 0 0 due
	5 2 0 0 not due
	5 0 0 0 not due
	5 2 1 0 due
	5 2 0 1 due
	5 0 1 1 due
	EOF
	while read step every last stop; do
		echo "$step $every $last $stop $(test-tool train ckpt-due $step $every $last $stop)" || return 1
	done <<-\EOF >actual &&
	4 2 0 0
	5 2 0 0
	5 0 0 0
	5 2 1 0
	5 2 0 1
	5 0 1 1
	EOF
	test_cmp expect actual
'

test_expect_success 'set up a run with a checkpoint every step' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000 &&
	lm-train data $SMALL --steps 3 --ckpt-every 1 --keep 0 -o run 2>err
'

test_expect_success 'the pointer'"'"'s pair when whole' '
	test-tool train ckpt-find run >actual &&
	echo "step 3" >expect &&
	test_cmp expect actual
'

test_expect_success 'its state damaged: the previous pair, and why' '
	cp -r run torn &&
	truncate -s 100 torn/ckpt_00000003.state &&
	test-tool train ckpt-find torn >actual &&
	head -1 actual >step && echo "step 2" >expect && test_cmp expect step &&
	grep "^warning: cannot resume from step 3: .*ckpt_00000003.state.*resuming from step 2" actual
'

test_expect_success 'no pointer: the newest whole pair, and why' '
	cp -r run nopointer && rm nopointer/ckpt.safetensors &&
	test-tool train ckpt-find nopointer >actual &&
	grep "^step 3$" actual &&
	grep "^warning: .* has no ckpt.safetensors: resuming from step 3" actual
'

test_expect_success 'no whole pair: an error' '
	mkdir empty &&
	test_expect_code 1 test-tool train ckpt-find empty 2>err &&
	test_error_mentions err "empty" "no checkpoint to resume"
'

# ---- lm-train's command line (the shared skeleton) --------------------------------------

test_expect_success '--help and --version on stdout, exit 0' '
	lm-train --help >out 2>err && grep "^usage: lm-train" out && ! test -s err &&
	grep -e "--version" out &&
	lm-train --version >out 2>err && grep "^lm-train (lmpipe) " out && ! test -s err
'

test_expect_success 'a bad option value: exit 2, the option named, the help hinted, nothing on stdout' '
	test_expect_code 2 lm-train data --steps x >out 2>err &&
	! test -s out &&
	test_error_mentions err "lm-train: --steps" "Try '"'"'lm-train --help'"'"'" &&
	test_expect_code 2 lm-train data -j 0 >out 2>err &&
	test_error_mentions err "--threads" &&
	test_expect_code 2 lm-train >out 2>err &&
	test_error_mentions err "no DATA_DIR"
'

test_expect_success 'model flags with --resume: a usage error (the model is the run'"'"'s)' '
	test_expect_code 2 lm-train --resume run --layers 2 >out 2>err &&
	! test -s out &&
	test_error_mentions err "lm-train:" "model flags with --resume"
'

test_expect_success 'a fresh run where one is: refused, what to do said' '
	test_expect_code 1 lm-train data $SMALL --steps 1 -o run 2>err &&
	test_error_mentions err "lm-train:" "run" "already holds a run" "-f"
'

test_expect_success 'a run directory that is a file: the error names it' '
	: >afile &&
	test_expect_code 1 lm-train data $SMALL --steps 1 -o afile 2>err &&
	test_error_mentions err "lm-train:" "afile" "not a directory"
'

test_done
