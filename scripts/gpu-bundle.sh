#!/bin/bash
# scripts/gpu-bundle.sh — make a copy of the tools that runs on a GPU machine
# without this machine's -dev packages: build with CUDA for ARCH into
# build/gpu (no MPI, no librsvg), copy the shared libraries the binaries
# need beyond glibc and CUDA's own into .gpu/lib, and the data the GPU
# benchmarks read (../shared's Shakespeare and HellaSwag) into .gpu/shared;
# the tests' data is in t/data. Then, on the GPU machine, from the repository's root:
#
#   LD_LIBRARY_PATH=$PWD/.gpu/lib LMPIPE_BIN=$PWD/build/gpu/rel/bin \
#       LMPIPE_SHARED=$PWD/.gpu/shared scripts/gpu-check.sh OUT_DIR tests bench
#
#   scripts/gpu-bundle.sh [ARCH]      (default 90: H100/H200)
#
# The host code is built for MARCH (default x86-64-v3: AVX2 and FMA, which
# every x86 GPU server has), not -march=native: this machine's CPU may have
# instructions the GPU machine's lacks, and the tools would die of SIGILL.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-90}
march=${MARCH:-x86-64-v3}
shared=${LMPIPE_SHARED:-$top/../shared}
cd "$top"
make BUILD=build/gpu CUDA=1 CUDA_ARCH="$arch" MARCH="$march" MPICC= RSVG_PKGS=none -j"$(nproc)" >/dev/null
rm -rf .gpu/lib && mkdir -p .gpu/lib .gpu/shared/data/corpus .gpu/shared/data/hellaswag
for b in build/gpu/rel/bin/*; do ldd "$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u |
	grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux-x86-64|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt|libnccl)\.so' |
	xargs -r cp -L -t .gpu/lib/
# The tests read t/data; only the benchmarks want the whole corpora, so a
# clone without them still makes a bundle that runs the tests.
if [ -d "$shared/data" ]; then
	cp "$shared/data/corpus/tinyshakespeare.txt" .gpu/shared/data/corpus/
	cp "$shared/data/hellaswag/hellaswag_val_full.txt.bz2" .gpu/shared/data/hellaswag/
else
	echo "gpu-bundle: no '$shared/data': the benchmarks that read its corpora will not run" >&2
fi
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.gpu/' >>.git/info/exclude; }
du -sh build/gpu/rel/bin .gpu | sed 's/^/bundle: /'
