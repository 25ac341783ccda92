#!/bin/bash
test_description='a .bin.zst is held in memory only as far as its stream bears its header out

Reading a whole .bin.zst (the loader'\''s shard_open) grew no buffer from the
header'\''s count before: a 200-byte file claiming 2^31 - 1 tokens asked for
4 GiB at once. Now the buffer grows with the tokens decompressed, so such a
file is the truncation error it is, within a small address space (the
optimized test-tool under ulimit -v: ASan reserves terabytes of shadow), and
a true shard of several growth steps still reads exactly.'
. ./lib-test.sh

REL="$LMPIPE_REL_BIN"

test_expect_success 'a header that claims 2^31 - 1 tokens over 100: truncated, in 1 GB of address space' '
	mkdir lie &&
	python3 -c "import struct, sys
h = struct.pack(\"<256i\", 20240520, 1, 2**31 - 1, *([0] * 253))
sys.stdout.buffer.write(h + struct.pack(\"<100H\", *range(100)))" | zstd -q -c >lie/x_train_000000.bin.zst &&
	(ulimit -v 1000000 && test_exit_is 1 "$REL/test-tool" loader -B 1 -T 8 --batches 1 lie train) 2>err &&
	echo "test-tool: '\''lie/x_train_000000.bin.zst'\'' is truncated: the header counts 2147483647 tokens, it holds 100" >expect &&
	test_cmp expect err
'

test_expect_success 'a shard of 2.5M tokens (three buffer sizes) reads as its .bin twin' '
	test-tool shard gen 2500000 --vocab 65536 >tok.u16 &&
	"$REL/shard" -o bin -n 2500000 --val-tokens 0 tok.u16 &&
	"$REL/shard" -o zst -n 2500000 --val-tokens 0 --zstd tok.u16 &&
	ls bin zst >names && grep -q "shard_train_000000.bin.zst" names &&
	"$REL/test-tool" loader -B 2 -T 1000 --epochs 1 bin train >rows.bin &&
	"$REL/test-tool" loader -B 2 -T 1000 --epochs 1 zst train | sed "s/\.bin\.zst /.bin /" >rows.zst &&
	test $(wc -l <rows.bin) -gt 1000 &&
	test_cmp rows.bin rows.zst
'

test_done
