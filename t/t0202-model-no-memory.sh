#!/bin/bash
test_description='the CPU model without memory for its scratch buffers: the same numbers, only slower'
. ./lib-test.sh
. "$TEST_DIRECTORY/lib-train.sh"

# The optimized tools: a preloaded allocator does not go with ASan's.
TRAIN="$LMPIPE_REL_BIN/lm-train"
MODEL="--model d1 --vocab 64 --batch-tokens 256 -b 2 --steps 3 --eval-every 0"

# A preloaded library under which every malloc or aligned_alloc of
# FAIL_SIZE bytes fails: 98304, the GEMM's packing buffer for A (KC x MC
# floats), or 4 x ctx, the attention backward's row of T floats, with a ctx
# no other allocation shares. It counts the failures on stderr at exit.
test_expect_success 'set up shards and the failing allocator' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000 &&
	cat >nomem.c <<-\EOF &&
	#include <stdio.h>
	#include <stdlib.h>
	#include <unistd.h>
	void *__libc_malloc(size_t n);
	static int failed;
	static int fails(size_t n)
	{
		const char *size = getenv("FAIL_SIZE");
		if (!size || (size_t)atol(size) != n)
			return 0;
		__atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
		return 1;
	}
	void *aligned_alloc(size_t align, size_t n)
	{
		void *p;
		return fails(n) || posix_memalign(&p, align, n) ? NULL : p;
	}
	void *malloc(size_t n) { return fails(n) ? NULL : __libc_malloc(n); }
	__attribute__((destructor)) static void report(void)
	{
		char line[64];
		int len = snprintf(line, sizeof line, "nomem: %d failed\n", failed);
		write(2, line, (size_t)len);
	}
	EOF
	cc -shared -fPIC -O2 -o nomem.so nomem.c
'

test_expect_success 'the GEMM without its packing buffers gives the same losses' '
	"$TRAIN" data $MODEL --ctx 16 -o full 2>err &&
	FAIL_SIZE=98304 LD_PRELOAD=$PWD/nomem.so "$TRAIN" data $MODEL --ctx 16 -o nopack 2>err &&
	grep "^nomem: [1-9][0-9]* failed" err &&
	losses full/log.jsonl >expect &&
	losses nopack/log.jsonl >actual &&
	test $(wc -l <actual) = 3 &&
	test_cmp expect actual
'

test_expect_success 'the attention backward without its row buffer gives the same losses' '
	"$TRAIN" data $MODEL --ctx 37 --batch-tokens 148 -o full37 2>err &&
	FAIL_SIZE=148 LD_PRELOAD=$PWD/nomem.so "$TRAIN" data $MODEL --ctx 37 --batch-tokens 148 -o nods 2>err &&
	grep "^nomem: [1-9][0-9]* failed" err &&
	losses full37/log.jsonl >expect &&
	losses nods/log.jsonl >actual &&
	test $(wc -l <actual) = 3 &&
	test_cmp expect actual
'

test_done
