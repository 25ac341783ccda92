#!/bin/bash
test_description='share/util/io: the atomic writer and what the output path names

A regular file is replaced by rename; a symbolic link stays a link and the
file it points to is replaced; a FIFO or a device is written through, never
replaced by a regular file; a directory is an error. bpe-learn -o/--json and
lm-stat --plot -o all write through this one writer.'
. ./lib-test.sh

printf 'hello world hello there world\n' >corpus.txt

# learn merges into $1 (bpe-learn -f, so only the writer decides)
learn() { bpe-learn -v 260 -f -o "$1" corpus.txt; }

# A device node of our own (root makes one in the scratch directory, so a
# writer that replaced it destroys nothing of the machine's); others use
# the system's, which they cannot replace anyway. $1: name, $2 $3: numbers.
device_node() {
	if mknod "$1" c "$2" "$3" 2>/dev/null; then
		echo "$1"
	else
		case $2,$3 in 1,3) echo /dev/null ;; 1,7) echo /dev/full ;; esac
	fi
}

test_expect_success 'a regular file is replaced, and no temporary file is left' '
	echo old >plain &&
	learn plain &&
	head -n 1 plain >first && echo "#version: 0.2" >expect && test_cmp expect first &&
	ls >listing && ! grep -q "\.tmp\." listing
'

test_expect_success 'a symbolic link stays a link; the file it points to gets the output' '
	echo old >real && ln -s real link &&
	learn link &&
	test -L link && test "$(readlink link)" = real &&
	test -f real && ! test -L real &&
	head -n 1 real >first && echo "#version: 0.2" >expect && test_cmp expect first
'

test_expect_success 'a relative link in another directory, and a chain of links' '
	mkdir -p sub && echo old >target && ln -s ../target sub/rel && ln -s sub/rel chain &&
	learn chain &&
	test -L chain && test -L sub/rel && test "$(readlink sub/rel)" = ../target &&
	head -n 1 target >first && echo "#version: 0.2" >expect && test_cmp expect first &&
	ls sub >listing && ! grep -q "\.tmp\." listing
'

test_expect_success 'a dangling link creates the file it names and stays a link' '
	ln -s made-by-link dangling &&
	learn dangling &&
	test -L dangling && test -f made-by-link &&
	head -n 1 made-by-link >first && echo "#version: 0.2" >expect && test_cmp expect first
'

test_expect_success 'a loop of links is an error, and the links stay' '
	ln -s loop-b loop-a && ln -s loop-a loop-b &&
	test_must_fail learn loop-a 2>err &&
	test_error_mentions err "bpe-learn: cannot write" "loop-a" &&
	test -L loop-a && test -L loop-b
'

# The FIFO's reader gives up after 20 s, so a writer that replaced the FIFO
# instead of opening it fails the test rather than hanging it.
test_expect_success 'a FIFO is written through: the reader gets the merges, the FIFO stays' '
	mkfifo fifo &&
	{ timeout 20 cat fifo >from-fifo & } &&
	learn fifo &&
	wait &&
	test -p fifo &&
	learn expect-merges &&
	test_cmp expect-merges from-fifo
'

test_expect_success 'lm-stat --plot -o a FIFO writes the SVG through it' '
	printf "%s\n" "{\"step\":1,\"tokens\":10,\"loss\":5,\"lr\":0.001}" \
		"{\"step\":2,\"tokens\":20,\"loss\":4,\"lr\":0.001}" >log.jsonl &&
	mkfifo plot-fifo &&
	{ timeout 20 cat plot-fifo >plot.svg & } &&
	lm-stat --plot -o plot-fifo log.jsonl &&
	wait &&
	test -p plot-fifo &&
	grep -q "<svg" plot.svg
'

test_expect_success 'a character device is written through and stays a device' '
	null=$(device_node null 1 3) &&
	learn "$null" &&
	bpe-learn -v 260 -f -o merges --json "$null" corpus.txt &&
	test -c "$null"
'

test_expect_success 'a full device: the write fails with ENOSPC, the device stays' '
	full=$(device_node full 1 7) &&
	test_must_fail learn "$full" 2>err &&
	test_error_mentions err "bpe-learn: cannot write" "No space left on device" &&
	test -c "$full" &&
	test_must_fail bpe-learn -v 260 -f -o merges --json "$full" corpus.txt 2>err &&
	test_error_mentions err "No space left on device" &&
	test -c "$full" && test -c /dev/full
'

test_expect_success 'a directory is an error and stays a directory' '
	mkdir outdir &&
	test_must_fail learn outdir 2>err &&
	test_error_mentions err "bpe-learn: cannot write" "outdir" "Is a directory" &&
	test -d outdir &&
	ln -s outdir dirlink &&
	test_must_fail learn dirlink 2>err &&
	test_error_mentions err "Is a directory" &&
	test -L dirlink && test -d outdir
'

test_done
