#!/bin/bash
test_description='shard: killed at any moment, it leaves only whole shards'
. ./lib-test.sh

# A slow producer (300 tokens every 10 ms) into shard -n 1000, killed with
# SIGNAL once WANT shards are on disk and the next one is being written; the
# shards left must be whole, and be the stream's first tokens.
slow_kill() {
	local dir=$1 sig=$2 want=$3
	test-tool shard gen 60000 --chunk 300 --delay-ms 10 |
		shard -o "$dir" -n 1000 &
	local pid=$! n=0 i=0
	while [ $i -lt 300 ]; do
		n=$(ls "$dir" 2>/dev/null | grep -c "\.bin$")
		[ "$n" -ge "$want" ] && ls "$dir" | grep -q "\.tmp\." && break
		sleep 0.01
		i=$((i + 1))
	done
	kill -"$sig" $pid
	wait $pid
	echo $? >"$dir.rc"
}

test_expect_success 'setup: the stream' '
	test-tool shard gen 60000 >all.u16
'

for round in 1 2 3; do
test_expect_success "kill -9 mid-stream (round $round): only whole shards, the stream's prefix" '
	slow_kill k$round KILL $((round + 1)) &&
	test "$(cat k$round.rc)" = 137 &&
	ls k$round >names &&
	! grep -v -e "^shard_\(val\|train\)_0000[0-9][0-9]\.bin$" -e "\.bin\.tmp\.[0-9]*\.[0-9]*$" names &&
	shard --info k$round/*.bin >info &&
	! grep -v -e ": 1,000 tokens" -e "^total:" info &&
	n=$(grep -c "1,000 tokens" info) &&
	test "$n" -ge $((round + 1)) &&
	for i in $(seq 0 $((n - 1))); do
		s=train && [ $i = 0 ] && s=val
		tail -c +1025 k$round/shard_${s}_$(printf %06d $i).bin || return 1
	done >got &&
	head -c $((n * 2000)) all.u16 | cmp - got &&
	test-tool loader -T 100 --epochs 1 k$round train >rows &&
	! grep tmp rows && test $(wc -l <rows) = $(((n - 1) * 9))
'
done

test_expect_success 'kill -9 leaves a temp file: never a shard to the readers' '
	tmp=$(ls k1/*.tmp.*) &&
	test-tool loader -T 100 --val --batches 1000 k1 all >rows &&
	! grep tmp rows &&
	test_must_fail shard --info "$tmp" 2>err &&
	test_error_mentions err "after the 0 tokens its header counts"
'

test_expect_success 'SIGTERM: the temp file is removed, whole shards stay' '
	slow_kill t TERM 2 &&
	test "$(cat t.rc)" = 143 &&
	! ls t | grep -q tmp &&
	shard --info t/* >info && ! grep -v "1,000 tokens" info | grep -v "^total"
'

test_done
