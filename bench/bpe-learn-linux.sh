#!/bin/bash
# bench/bpe-learn-linux.sh — a multi-GB corpus on a small machine: bpe-learn
# on Debian's linux-source tarball (about 140 MB of .tar.xz, 1.3 GB of text),
# read straight through libarchive (xz, then tar; its links skipped), with
# GNU time for wall time and peak memory, and --stats for bytes read and
# distinct pre-tokens.
#
#   bench/bpe-learn-linux.sh [TARBALL] [VOCAB] [THREADS]   defaults: fetched, 32000, 2
#
# With no TARBALL, the newest linux-source-* package apt offers is fetched
# (apt-get download, no root needed) into $LINUX_SRC_DIR (default
# /tmp/lmpipe-linux-source) and its /usr/src/linux-source-*.tar.xz taken out
# with dpkg-deb.
#
# Measured on the project's 2-core box (Debian 12, shared: load average 6-8
# from other jobs), linux-source-6.1 6.1.192, vocab 32000, -j 2, best of 3:
#   1,298,681,992 bytes read, 435,868,297 pre-tokens, 854,738 distinct,
#   56 links skipped; wall 26.9 s (counting 24.3 s, 31744 merges 2.6 s),
#   user 24.4 s, peak RSS 282 MiB. Counting dominates: libarchive's xz
#   decoding alone is 7.8 s of one core (xz -dc), in the reading thread.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${LMPIPE_REL_BIN:-$top/build/rel/bin}
tarball=${1:-}
vocab=${2:-32000}
threads=${3:-2}
dir=${LINUX_SRC_DIR:-/tmp/lmpipe-linux-source}

if [ -z "$tarball" ]; then
	mkdir -p "$dir"
	tarball=$(ls "$dir"/x/usr/src/linux-source-*.tar.xz 2>/dev/null | tail -n 1 || true)
	if [ -z "$tarball" ]; then
		pkg=$(apt-cache depends linux-source | awk '/Depends: linux-source-/ { print $2; exit }')
		(cd "$dir" && apt-get download "$pkg")
		dpkg-deb -x "$(ls "$dir"/"$pkg"_*.deb | tail -n 1)" "$dir/x"
		tarball=$(ls "$dir"/x/usr/src/linux-source-*.tar.xz | tail -n 1)
	fi
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "corpus: $tarball ($(du -m "$tarball" | cut -f1) MB compressed)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M KB" -o "$out/time" \
	"$bin/bpe-learn" --stats -f -v "$vocab" -j "$threads" -o "$out/linux.merges" "$tarball"
cat "$out/time"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
