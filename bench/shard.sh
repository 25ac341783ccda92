#!/bin/bash
# bench/shard.sh — shard's throughput beside the pipe and disk it sits on,
# and each zstd level's speed and ratio on real token data.
#
#   bench/shard.sh [GB]       default 1: GB of tokens through the plain path
#
# Plain: GB of random uint16 (from /dev/urandom, read from tmpfs or the
# page cache) piped into shard -n 100M (each shard fsync'ed), beside the
# peers doing the same bytes' minimum: `cat | cat >/dev/null` (the pipe
# alone), `cat | cat >file` and `cat | dd conv=fsync` (into a file, synced
# once); on the disk, then on tmpfs (/dev/shm: no disk under it, so the
# CPU cost shows). Then shard --info over the result (validation speed).
# zstd: the GPT-2 tokens (tiktoken, offline from ../shared/data) of tiny
# shakespeare, the head of TinyStories and the HellaSwag text, ~3 M tokens
# made into REPS shards of one copy each (a repeat inside one shard would
# flatter the ratio), a level with one thread, written to tmpfs; MB/s of
# uncompressed shard bytes, end to end (read, compress, write, fsync).
# Needs make (build/rel) and make deps.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
gb=${1:-1}
bin=${LMPIPE_REL_BIN:-$top/build/rel/bin}
[ -x "$bin/shard" ] || { echo "bench/shard.sh: no $bin/shard (run make)" >&2; exit 1; }
python=$top/.venv/bin/python
data=${LMPIPE_SHARED:-$top/../shared}/data
work=$(mktemp -d "${TMPDIR:-/tmp}/shard-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
bytes=$((gb * 1000000000))

secs() { local t0=$(date +%s.%N); "$@"; echo "$(date +%s.%N) - $t0" | bc -l; }
rate() { echo "scale=2; $1 / $2 / 1000000000" | bc -l; }   # bytes secs -> GB/s

echo "machine: $(nproc) cores, $(uname -m), $(df -h "$work" | awk 'NR==2{print $1}')"
# tmpfs, where there is room: shard without a disk under it (CPU cost only)
shm=
if [ -d /dev/shm ] && [ "$(df -B1 --output=avail /dev/shm | tail -n 1)" -gt $((3 * bytes)) ]; then
	shm=$(mktemp -d /dev/shm/shard-bench.XXXXXX)
	trap 'rm -rf "$work" "$shm"' EXIT
fi
src=${shm:-$work}/tok.u16
head -c "$bytes" /dev/urandom >"$src"

# plain_row LABEL DIR: shard and its peers writing into DIR
plain_rows() {
	local where=$1 dir=$2 t
	t=$(secs sh -c "cat '$src' | cat >'$dir/cat.out'")
	printf "%-44s %8.2f %8s\n" "cat | cat >file ($where)" "$t" "$(rate $bytes $t)"
	rm -f "$dir/cat.out"
	t=$(secs sh -c "cat '$src' | dd of='$dir/dd.out' bs=4M conv=fsync status=none")
	printf "%-44s %8.2f %8s\n" "cat | dd conv=fsync ($where)" "$t" "$(rate $bytes $t)"
	rm -f "$dir/dd.out"
	t=$(secs sh -c "cat '$src' | '$bin/shard' -o '$dir/out' -n 100M")
	printf "%-44s %8.2f %8s\n" "cat | shard -n 100M, fsync each ($where)" "$t" "$(rate $bytes $t)"
	t=$(secs sh -c "'$bin/shard' --info '$dir'/out/*.bin >/dev/null")
	printf "%-44s %8.2f %8s\n" "shard --info, all shards ($where)" "$t" "$(rate $bytes $t)"
	rm -rf "$dir/out"
}

printf "\n%-44s %8s %8s\n" "plain, $gb GB of tokens" "seconds" "GB/s"
t=$(secs sh -c "cat '$src' | cat >/dev/null")
printf "%-44s %8.2f %8s\n" "cat | cat >/dev/null (the pipe alone)" "$t" "$(rate $bytes $t)"
plain_rows disk "$work"
if [ -n "$shm" ]; then
	mkdir -p "$shm/p" && plain_rows tmpfs "$shm/p"
fi
rm -f "$src"

export TD=$top/t SHARED_DATA=$data
"$python" - "$work/text.u16" "$data/hellaswag/hellaswag_val_full.txt.bz2" <<'PY'
import sys, os, importlib
import numpy as np
sys.path.insert(0, os.environ["TD"])
gpt2 = importlib.import_module("lib-tiktoken").gpt2()
d = os.environ["SHARED_DATA"] + "/corpus/"
ids = []
import bz2
texts = [open(d + f, encoding="utf-8").read() for f in ("tinyshakespeare.txt", "tinystories_val_head.txt")]
texts.append(bz2.open(sys.argv[2], "rt", encoding="utf-8").read())
for t in texts:
    ids += gpt2.encode(t, allowed_special="all")
np.array(ids, dtype="<u2").tofile(sys.argv[1])
PY
n=$(($(stat -c %s "$work/text.u16") / 2))
reps=${REPS:-3}
zdir=${shm:-$work}
shard_bytes=$(( (1024 + 2 * n) * reps ))
printf "\nzstd, %s tokens of English (GPT-2 ids) x %d, one thread\n" "$n" "$reps"
printf "%-10s %10s %10s %8s\n" level "MB/s" "ratio" "% size"
for r in $(seq "$reps"); do cat "$work/text.u16"; done >"$work/rep.u16"
t=$(secs "$bin/shard" -o "$zdir/plain" -n "$n" --val-tokens 0 "$work/rep.u16")
printf "%-10s %10.1f %10.2f %8.1f\n" "(plain)" "$(echo "$shard_bytes / $t / 1000000" | bc -l)" 1 100
rm -rf "$zdir/plain"
for level in -5 -1 1 3 6 9 12 15 19; do
	t=$(secs "$bin/shard" -o "$zdir/z$level" -n "$n" --val-tokens 0 --zstd="$level" -j 1 "$work/rep.u16")
	z=$(cat "$zdir/z$level"/*.zst | wc -c)
	printf "%-10s %10.1f %10.2f %8.1f\n" "$level" "$(echo "$shard_bytes / $t / 1000000" | bc -l)" \
		"$(echo "$shard_bytes / $z" | bc -l)" "$(echo "100 * $z / $shard_bytes" | bc -l)"
	rm -rf "$zdir/z$level"
done
t=$(secs "$bin/shard" -o "$zdir/zj" -n "$n" --val-tokens 0 --zstd=3 -j "$(nproc)" "$work/rep.u16")
printf "%-10s %10.1f   (level 3, -j %d)\n" "3" "$(echo "$shard_bytes / $t / 1000000" | bc -l)" "$(nproc)"
