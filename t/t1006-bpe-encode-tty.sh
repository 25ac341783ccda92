#!/bin/bash
test_description='bpe-encode: terminals (binary refused, progress line) and the pipeline

script(1) from util-linux gives the tool a pseudo-terminal: a terminal on
stdout must be refused before anything is written; a terminal on stderr
gets a progress line (\r-updated, ended by a newline) and a file or pipe
never does. Then many small chunks of several files and JSON-lines
documents through the ring of slots, with more threads than cores, must
give the ids of one whole pass.'
. ./lib-test.sh

G="$GPT2_DATA"
enc() { bpe-encode -m "$G/vocab.bpe" -s "<|endoftext|>" "$@"; }

if command -v script >/dev/null 2>&1 && script -qec true /dev/null >/dev/null 2>&1; then
	test_set_prereq TTY
fi

test_expect_success 'prepare text' '
	for i in 1 2 3 4 5 6 7 8 9 10; do
		printf "Once upon a time, %d cats said: \"I'"'"'LL go!\"\n\n" $i
		printf "caf\303\251 \316\261\316\262\316\263   numbers 12345 and <|endoftext|> more\n"
	done >text &&
	enc text >ids.ref && test -s ids.ref
'

test_expect_success TTY 'refuses to write binary to a terminal, writes nothing' '
	G="$G" script -qec "bpe-encode -m \"\$G/vocab.bpe\" -s \"<|endoftext|>\" text" /dev/null >tty.out;
	test $? = 1 &&
	grep "bpe-encode: refusing to write binary token stream to a terminal" tty.out &&
	test $(wc -l <tty.out) = 1
'

test_expect_success TTY 'a terminal on stderr gets a progress line ended by a newline' '
	G="$G" script -qec "bpe-encode -m \"\$G/vocab.bpe\" -s \"<|endoftext|>\" text >ids.tty" /dev/null >tty.out &&
	test_cmp ids.ref ids.tty &&
	tr "\r" "\n" <tty.out | grep -v "^\$" >progress &&
	tail -n 1 progress >last &&
	bytes=$(wc -c <text | sed -e ":a" -e "s/\B[0-9]\{3\}\>/,&/" -e "ta") &&
	grep "^bpe-encode: $bytes bytes, [0-9.]* MB/s\$" last &&
	test "$(tail -c 2 tty.out | od -An -tx1 | xargs)" = "0d 0a"
'

test_expect_success 'no progress line when stderr is not a terminal' '
	enc text >ids 2>err &&
	test_cmp ids.ref ids &&
	test ! -s err &&
	enc -j 2 --chunk 7 text 2>&1 >ids | cat >err &&
	test ! -s err
'

test_expect_success 'many small chunks, files and documents, more threads than slots: equal to one pass' '
	cat text text text >three &&
	enc three >expect &&
	for j in 1 2 3 5; do
		for c in 1 5 64 1k; do
			enc -j $j --chunk $c text text text >got.$j.$c &&
			test_cmp expect got.$j.$c || return 1
		done
	done &&
	printf "{\"text\": \"a b  c\\\\n\\\\n\"}\n{\"text\": \"x\"}\n{\"text\": \"I'"'"'ve 42\"}\n" >d.jsonl &&
	cat d.jsonl d.jsonl d.jsonl d.jsonl >d4.jsonl &&
	enc --jsonl text d4.jsonl >jexpect &&
	for j in 1 2 4; do
		for c in 1 3 17; do
			enc -j $j --chunk $c --jsonl text d.jsonl d.jsonl d.jsonl d.jsonl >jgot &&
			test_cmp jexpect jgot || return 1
		done
	done
'

test_done
