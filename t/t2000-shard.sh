#!/bin/bash
test_description='shard: token streams to llm.c shards, --info, the errors'
. ./lib-test.sh

# tokens as uint16 LE bytes: u16 1 2 3 -> 6 bytes
u16() { for t in "$@"; do printf "\\x$(printf %02x $((t & 255)))\\x$(printf %02x $((t >> 8)))"; done; }
u32() { for t in "$@"; do u16 $((t & 65535)) $((t >> 16)); done; }
SQ="'"
# exit status exactly N
exits() { local want=$1; shift; "$@"; local rc=$?; [ $rc = "$want" ] || { echo "exit $rc, wanted $want: $*"; return 1; }; }

test_expect_success 'setup: 5000 tokens with a document every 100' '
	test-tool shard gen 5000 --eot-every 100 >tok.u16 &&
	test $(wc -c <tok.u16) = 10000
'

test_expect_success 'names, sizes, val first: 1000-token shards' '
	shard -o d -n 1000 tok.u16 &&
	(cd d && ls) >actual &&
	cat >expect <<-\EOT &&
	shard_train_000001.bin
	shard_train_000002.bin
	shard_train_000003.bin
	shard_train_000004.bin
	shard_val_000000.bin
	EOT
	test_cmp expect actual &&
	for f in d/*.bin; do test $(wc -c <"$f") = $((1024 + 2000)) || return 1; done &&
	cat d/shard_val_000000.bin d/shard_train_00000[1-4].bin >all &&
	head -c 1024 d/shard_val_000000.bin | od -An -tu4 -N12 | tr -s " " >hdr &&
	echo " 20240520 1 1000" >expect && test_cmp expect hdr
'

test_expect_success 'the tokens are the stream, in order' '
	for f in d/shard_val_000000.bin d/shard_train_00000[1-4].bin; do
		tail -c +1025 "$f" || return 1
	done >back &&
	cmp tok.u16 back
'

test_expect_success 'stdin, a short last shard, --val-tokens, --prefix, --start-index' '
	shard -o d2 -n 1500 --val-tokens 2000 --prefix fw --start-index 10 <tok.u16 &&
	shard --info --json d2/* | sed "s/.*\"file\":\"d2.\([^\"]*\)\".*\"tokens\":\([0-9]*\).*/\1 \2/" >actual &&
	cat >expect <<-\EOT &&
	fw_train_000012.bin 1500
	fw_train_000013.bin 1500
	fw_val_000010.bin 1500
	fw_val_000011.bin 500
	EOT
	test_cmp expect actual
'

test_expect_success '--val-tokens 0: no val shard' '
	shard -o d3 -n 4000 --val-tokens 0 tok.u16 &&
	(cd d3 && ls) >actual &&
	printf "shard_train_000000.bin\nshard_train_000001.bin\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'several files are one stream' '
	head -c 3000 tok.u16 >a && tail -c +3001 tok.u16 >b &&
	shard -o d4 -n 1000 a - <b &&
	cmp d/shard_train_000003.bin d4/shard_train_000003.bin
'

test_expect_success 'all tokens in val: a warning, no train shard' '
	shard -o d5 tok.u16 2>err &&
	test_error_mentions err "no train shard" && ls d5 >actual &&
	echo shard_val_000000.bin >expect && test_cmp expect actual
'

test_expect_success '--info: counts, id range, documents, first tokens' '
	u16 1 2 3 50256 7 65535 50256 >small.u16 &&
	shard -o s --val-tokens 0 small.u16 &&
	shard --info --head 4 s/shard_train_000000.bin >actual &&
	echo "s/shard_train_000000.bin: 7 tokens, ids 1..65535, 2 documents, first: 1 2 3 50256 ..." >expect &&
	test_cmp expect actual &&
	shard --info --eot 7 --head 0 s/shard_train_000000.bin >actual &&
	echo "s/shard_train_000000.bin: 7 tokens, ids 1..65535, 1 documents" >expect &&
	test_cmp expect actual &&
	shard --info --json --head 3 s/shard_train_000000.bin >actual &&
	echo "{\"file\":\"s/shard_train_000000.bin\",\"format\":\"bin\",\"version\":1,\"tokens\":7,\"bytes\":1038,\"min\":1,\"max\":65535,\"documents\":2,\"head\":[1,2,3]}" >expect &&
	test_cmp expect actual
'

test_expect_success '--info on many files: a total line' '
	shard --info d/* >out &&
	test $(wc -l <out) = 6 &&
	tail -n 1 out >actual &&
	echo "total: 5 shards, 5,000 tokens, 50 documents" >expect &&
	test_cmp expect actual
'

test_expect_success '--u32 input, ids checked against uint16' '
	u32 1 2 3 50256 7 65535 50256 >small.u32 &&
	shard -o s32 --val-tokens 0 --u32 small.u32 &&
	cmp s/shard_train_000000.bin s32/shard_train_000000.bin &&
	u32 1 2 65536 4 >big.u32 &&
	test_must_fail shard -o s33 --u32 big.u32 2>err &&
	test_error_mentions err "shard: " "big.u32" "token 65536 at position 2" "uint16" &&
	head -c 6 small.u32 >six && test_must_fail shard -o s34 --u32 six 2>err &&
	test_error_mentions err "half a token" "6 bytes" "4-byte"
'

test_expect_success 'errors: empty stream, half a token, a token past --vocab' '
	test_must_fail shard -o e1 </dev/null 2>err &&
	test_error_mentions err "shard: empty input" &&
	printf "\001\000\002" >odd.u16 &&
	test_must_fail shard -o e2 odd.u16 2>err &&
	test_error_mentions err "shard: " "odd.u16" "half a token" "3 bytes" &&
	test_must_fail shard -o e3 --vocab 50257 small.u16 2>err &&
	test_error_mentions err "token 65535 at position 5" "--vocab 50257" &&
	test_must_fail shard -o e4 nonexistent 2>err &&
	test_error_mentions err "cannot open ${SQ}nonexistent${SQ}" &&
	! ls e2/* e3/* 2>/dev/null
'

test_expect_success 'an error drops the shard being written, keeps those done' '
	{ cat tok.u16; printf "\001"; } >tail-odd.u16 &&
	test_must_fail shard -o e5 -n 1000 -v tail-odd.u16 2>err &&
	(cd e5 && ls) >actual &&
	printf "shard_train_000001.bin\nshard_train_000002.bin\nshard_train_000003.bin\nshard_train_000004.bin\nshard_val_000000.bin\n" >expect &&
	test_cmp expect actual &&
	{ cat tok.u16; u16 1 2; printf "\001"; } >tail-odd2.u16 &&
	test_must_fail shard -o e6 -n 1000 tail-odd2.u16 &&
	test $(ls e6 | wc -l) = 5
'

test_expect_success 'refuses to overwrite a shard unless -f' '
	test_must_fail shard -o d -n 1000 tok.u16 2>err &&
	test_error_mentions err "refusing to overwrite" "shard_val_000000.bin" "-f" &&
	test_must_fail shard -o d -n 1000 --zstd tok.u16 2>err &&
	test_error_mentions err "refusing to overwrite" "shard_val_000000.bin" &&
	shard -o d -n 1000 -f --val-tokens 0 small.u16 &&
	shard --info --head 0 d/shard_train_000000.bin >out && grep -q ": 7 tokens" out
'

test_expect_success '-f with --zstd replaces the .bin of the same shard' '
	cp -r d df && shard -o df -n 1000 -f --zstd tok.u16 &&
	(cd df && ls) >actual &&
	cat >expect <<-\EOT &&
	shard_train_000000.bin
	shard_train_000001.bin.zst
	shard_train_000002.bin.zst
	shard_train_000003.bin.zst
	shard_train_000004.bin.zst
	shard_val_000000.bin.zst
	EOT
	test_cmp expect actual
'

test_expect_success '--zstd: the same bytes, zstd -d reads them, levels' '
	shard -o z -n 1000 --zstd tok.u16 &&
	for f in d/shard_train_00000[1-4].bin; do
		b=${f#d/} && zstd -q -d -c "z/$b.zst" >plain && cmp "$f" plain || return 1
	done &&
	shard -o z19 -n 1000 --zstd 19 tok.u16 &&
	shard -o zn -n 1000 --zstd=-5 -j 1 tok.u16 &&
	zstd -q -d -c z19/shard_val_000000.bin.zst >v19 &&
	zstd -q -d -c zn/shard_val_000000.bin.zst >vn &&
	cmp d/shard_val_000000.bin v19 && cmp d/shard_val_000000.bin vn &&
	test_must_fail shard -o zx --zstd=99 tok.u16 2>err &&
	test_error_mentions err "--zstd" "out of range"
'

test_expect_success '--info checks .zst integrity; readers take zstd -c output too' '
	shard --info z/* >out && grep -q "zstd" out &&
	zstd -q -c d/shard_train_000001.bin >cli.bin.zst &&
	shard --info cli.bin.zst >out && grep -q "1,000 tokens" out &&
	head -c 2000 z/shard_train_000001.bin.zst >cut.bin.zst &&
	test_must_fail shard --info cut.bin.zst 2>err &&
	test_error_mentions err "cut.bin.zst" "truncated" &&
	cp z/shard_train_000001.bin.zst flip.bin.zst &&
	printf "\377\377\377\377" | dd of=flip.bin.zst bs=1 seek=1500 conv=notrunc 2>/dev/null &&
	test_must_fail shard --info flip.bin.zst 2>err &&
	test_error_mentions err "flip.bin.zst" &&
	{ cat d/shard_train_000001.bin; u16 5; } | zstd -q -c >long.bin.zst &&
	test_must_fail shard --info long.bin.zst 2>err &&
	test_error_mentions err "long.bin.zst" "after the 1000 tokens"
'

test_expect_success '--info: foreign and damaged files, named with the cause' '
	printf "hello" >short.bin &&
	test_must_fail shard --info short.bin 2>err &&
	test_error_mentions err "shard: ${SQ}short.bin${SQ} is too short" &&
	head -c 4096 tok.u16 >foreign.bin &&
	test_must_fail shard --info foreign.bin 2>err &&
	test_error_mentions err "${SQ}foreign.bin${SQ} is not a token shard" "magic" &&
	{ u32 20240520 2 0; head -c 1012 /dev/zero; } >v2.bin &&
	test_must_fail shard --info v2.bin 2>err &&
	test_error_mentions err "v2.bin" "version 2" &&
	head -c 2500 d/shard_train_000001.bin >trunc.bin &&
	test_must_fail shard --info trunc.bin 2>err &&
	test_error_mentions err "${SQ}trunc.bin${SQ} is truncated" "1000 tokens (3024 bytes)" "2500 bytes" &&
	{ cat d/shard_train_000001.bin; u16 9; } >extra.bin &&
	test_must_fail shard --info extra.bin 2>err &&
	test_error_mentions err "extra.bin" "2 bytes after the 1000 tokens" &&
	test_must_fail shard --info d/shard_train_000001.bin trunc.bin >out 2>err &&
	grep -q "shard_train_000001.bin: 1,000 tokens" out &&
	test_error_mentions err "1 of 2 files failed"
'

test_expect_success 'parts in parallel into one directory (--start-index, as in the README)' '
	for k in 0 1 2; do test-tool shard gen 2500 --seed $k >part_$k.u16 || return 1; done &&
	seq 0 2 | xargs -P 3 -I{} sh -c "shard -o par -n 1000 --start-index \$(({} * 1000)) --val-tokens \$([ {} = 0 ] && echo 1000 || echo 0) part_{}.u16" &&
	(cd par && ls) >actual &&
	cat >expect <<-\EOT &&
	shard_train_000001.bin
	shard_train_000002.bin
	shard_train_001000.bin
	shard_train_001001.bin
	shard_train_001002.bin
	shard_train_002000.bin
	shard_train_002001.bin
	shard_train_002002.bin
	shard_val_000000.bin
	EOT
	test_cmp expect actual &&
	tail -c +1025 par/shard_train_001002.bin >t && tail -c 1000 part_1.u16 | cmp - t &&
	test-tool loader -T 100 --val par train >rows && test $(wc -l <rows) = 57
'

test_expect_success 'usage: --help, a missing -o, a bad -n' '
	shard --help >out && grep -q "^usage: shard -o DIR" out &&
	exits 2 shard tok.u16 &&
	exits 2 shard -o x -n 0 tok.u16 &&
	exits 2 shard -o x -n 3G tok.u16 &&
	exits 2 shard -o x --vocab 70000 tok.u16 &&
	exits 2 shard --info
'

test_done
