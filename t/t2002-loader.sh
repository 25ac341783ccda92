#!/bin/bash
test_description='share/data/loader: windows, ranks, shuffles, resume, val order'
. ./lib-test.sh

# Every window of every shard in DIR, "NAME OFFSET SUM", computed by numpy
# from the files (zstd -d for .bin.zst): the oracle for test-tool loader.
windows() {
	"$PYTHON" - "$@" <<-\PY
	import sys, os, subprocess, numpy as np
	d, T = sys.argv[1], int(sys.argv[2])
	for name in sorted(os.listdir(d)):
	    path = os.path.join(d, name)
	    if name.endswith(".bin"):
	        raw = open(path, "rb").read()
	    elif name.endswith(".bin.zst"):
	        raw = subprocess.run(["zstd", "-q", "-d", "-c", path], check=True, capture_output=True).stdout
	    else:
	        continue
	    hdr = np.frombuffer(raw[:1024], dtype=np.int32)
	    assert hdr[0] == 20240520 and hdr[1] == 1
	    tok = np.frombuffer(raw[1024:], dtype=np.uint16).astype(np.int64)
	    assert len(tok) == hdr[2]
	    w = np.arange(1, T + 2, dtype=np.int64)
	    for k in range((len(tok) - 1) // T if len(tok) > T else 0):
	        s = int((tok[k * T:k * T + T + 1] * w).sum()) % 2**32
	        print(name, k * T, s)
	PY
}

test_expect_success 'setup: 4 train shards of 1000 tokens, one of 300, a val shard' '
	test-tool shard gen 5300 --vocab 65536 | shard -o d -n 1000 &&
	test $(ls d | wc -l) = 6
'

test_expect_success PYTHON 'one rank: epoch 0 is every train window once, as numpy reads them' '
	windows d 50 | grep train | sort >expect &&
	test $(wc -l <expect) = $((4 * 19 + 5)) &&
	test-tool loader -B 3 -T 50 --epochs 1 d train >rows &&
	cut -d" " -f2- rows | sort >actual &&
	test_cmp expect actual
'

for R in 2 3 5; do
test_expect_success PYTHON "$R ranks: no overlap, together every window once, balanced" '
	for r in $(seq 0 $(($R - 1))); do
		test-tool loader -B 3 -T 50 --rank $r --ranks $R --epochs 1 d train >rank$r || return 1
	done &&
	cat rank* | cut -d" " -f2- | sort >actual &&
	test_cmp expect actual &&
	wc -l rank* | grep -v total | awk "{print \$1}" | sort -n | sed -n "1p;\$p" >counts &&
	test $(($(tail -n 1 counts) - $(head -n 1 counts))) -le 1 &&
	rm rank*
'
done

test_expect_success 'the global order: rank r of R takes rows r, r+R, ... of one rank' '
	test-tool loader -B 6 -T 50 --batches 10 d train >one &&
	test-tool loader -B 3 -T 50 --rank 1 --ranks 2 --batches 10 d train >r1 &&
	awk "NR % 2 == 0" one >expect && test_cmp expect r1
'

test_expect_success 'same seed, same order; another seed, another; a new epoch, a new one' '
	test-tool loader -B 4 -T 50 --epochs 2 --seed 7 d train >a &&
	test-tool loader -B 4 -T 50 --epochs 2 --seed 7 d train >b &&
	test-tool loader -B 4 -T 50 --epochs 2 --seed 8 d train >c &&
	test_cmp a b && ! cmp -s a c &&
	sort a | cut -d" " -f2- >sa && sort c | cut -d" " -f2- >sc &&
	grep "^0 " a | cut -d" " -f2- >e0 && grep "^1 " a | cut -d" " -f2- >e1 &&
	! cmp -s e0 e1 && sort e0 >s0 && sort e1 >s1 && test_cmp s0 s1 &&
	grep "^0 " a | cut -d" " -f2 | uniq >shards0 &&
	test $(wc -l <shards0) = 5 && ! sort -c shards0 2>/dev/null &&
	grep "^0 " a | head -n 19 | cut -d" " -f3 >offsets0 &&
	! sort -n -c offsets0 2>/dev/null
'

test_expect_success 'resume mid-epoch and across epochs: the very same sequence' '
	test-tool loader -B 4 -T 50 --seed 3 --batches 30 d train >straight &&
	test-tool loader -B 4 -T 50 --seed 3 --batches 7 --save pos d train >first &&
	test $(wc -c <pos) = 64 &&
	test-tool loader -B 4 -T 50 --seed 99 --batches 23 --resume pos d train >rest &&
	cat first rest >joined && test_cmp straight joined &&
	grep -q "^1 " rest &&
	test-tool loader -B 4 -T 50 --seed 3 --batches 25 --save pos2 d train >first &&
	test-tool loader -B 4 -T 50 --batches 5 --resume pos2 d train >rest &&
	cat first rest >joined && test_cmp straight joined
'

test_expect_success 'resume with ranks: one saved position serves every rank' '
	for r in 0 1; do
		test-tool loader -B 2 -T 50 --rank $r --ranks 2 --batches 12 d train >s$r &&
		test-tool loader -B 2 -T 50 --rank $r --ranks 2 --batches 5 --save p$r d train >f$r &&
		test-tool loader -B 2 -T 50 --rank $r --ranks 2 --batches 7 --resume p0 d train >g$r &&
		cat f$r g$r >j$r && test_cmp s$r j$r || return 1
	done &&
	cmp p0 p1
'

test_expect_success 'a position from other data or another T is refused' '
	test-tool loader -B 2 -T 50 --batches 3 --save pos d train >/dev/null &&
	test_must_fail test-tool loader -B 2 -T 40 --batches 1 --resume pos d train 2>err &&
	test_error_mentions err "other data" "T 50" &&
	test_must_fail test-tool loader -B 2 -T 50 --batches 1 --resume pos d val 2>err &&
	test_error_mentions err "other data" &&
	head -c 20 pos >short &&
	test_must_fail test-tool loader -B 2 -T 50 --batches 1 --resume short d train 2>err &&
	test_error_mentions err "not a data position"
'

test_expect_success PYTHON 'val: file order, one pass, partial last batch, then nothing' '
	windows d 50 | grep val >expect &&
	test-tool loader -B 4 -T 50 --val d val >rows &&
	cut -d" " -f2- rows >actual && test_cmp expect actual &&
	test $(wc -l <rows) = 19 &&
	test-tool loader -B 4 -T 50 --val --rank 0 --ranks 2 d val >v0 &&
	test-tool loader -B 4 -T 50 --val --rank 1 --ranks 2 d val >v1 &&
	test $(wc -l <v0) = 10 && test $(wc -l <v1) = 9 &&
	cat v0 v1 | cut -d" " -f2- | sort >a && sort expect >b && test_cmp b a
'

test_expect_success PYTHON '.bin and .bin.zst mixed in one directory read the same' '
	mkdir m && test-tool shard gen 5300 --vocab 65536 | shard -o z -n 1000 --zstd &&
	cp d/shard_train_000001.bin d/shard_train_000003.bin d/shard_val_000000.bin m/ &&
	cp z/shard_train_000002.bin.zst z/shard_train_000004.bin.zst z/shard_train_000005.bin.zst m/ &&
	windows m 50 | grep train | sed "s/\.zst//" | sort >expect &&
	windows d 50 | grep train | sort >expect2 && test_cmp expect2 expect &&
	test-tool loader -B 3 -T 50 --epochs 1 m train | cut -d" " -f2- | sed "s/\.zst//" | sort >actual &&
	test_cmp expect actual &&
	test-tool loader -B 3 -T 50 --epochs 2 --seed 5 m train | sed "s/\.zst//" >mz &&
	test-tool loader -B 3 -T 50 --epochs 2 --seed 5 d train >dz &&
	test_cmp dz mz
'

test_expect_success 'a glob, one file, splits by name part' '
	test-tool loader -B 2 -T 50 --val "d/*_train_00000[12]*" all >rows &&
	test $(wc -l <rows) = 38 &&
	test-tool loader -B 2 -T 50 --val d/shard_val_000000.bin all >rows &&
	test $(wc -l <rows) = 19 &&
	mkdir n && cp d/shard_val_000000.bin n/fw-val.0.bin && cp d/shard_val_000000.bin n/interval_1.bin &&
	test-tool loader -B 2 -T 50 --val n val >rows &&
	test $(cut -d" " -f2 rows | sort -u) = fw-val.0.bin
'

test_expect_success 'errors: no shards, a damaged shard, windows longer than every shard' '
	mkdir empty &&
	test_must_fail test-tool loader -T 50 --val empty train 2>err &&
	test_error_mentions err "no train shards" "empty" &&
	test_must_fail test-tool loader -T 50 --val "nothing*" train 2>err &&
	test_error_mentions err "no file matches" &&
	mkdir bad && cp d/shard_train_00000[12].bin bad/ &&
	head -c 1500 d/shard_train_000003.bin >bad/shard_train_000003.bin &&
	test_must_fail test-tool loader -T 50 --val bad train 2>err &&
	test_error_mentions err "shard_train_000003.bin" "truncated" &&
	test_must_fail test-tool loader -T 1000 --val d train 2>err &&
	test_error_mentions err "no shard holds a window of T+1 = 1001 tokens"
'

test_expect_success 'a .zst damaged past its header fails when its windows are taken' '
	mkdir bz && cp z/shard_train_000001.bin.zst bz/ &&
	head -c 1000 z/shard_train_000002.bin.zst >bz/shard_train_000002.bin.zst &&
	test_must_fail test-tool loader -T 50 --val bz train >out 2>err &&
	test_error_mentions err "shard_train_000002.bin.zst" "truncated"
'

test_done
