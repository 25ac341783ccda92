#!/bin/sh
# setup-deps.sh — install what lmpipe needs to build and test, from the
# project's own list. Idempotent: a package already present is skipped, so a
# second `make deps` costs a few seconds.
#
#   scripts/setup-deps.sh            system packages + the Python test oracles
#   LMPIPE_NO_PYTHON=1 scripts/...   system packages only
#
# System packages come from Debian (apt-get). The Python oracles the tests use
# (tiktoken, HF tokenizers, transformers, safetensors; PyTorch on CPU) live in
# a virtual environment .venv built on Debian's python3, because Debian's
# python3-torch is the CPU-only PyTorch that installs in seconds (PyPI's torch
# wheel pulls gigabytes of CUDA libraries).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
venv="$top/.venv"

# Build and runtime libraries, test tools, MPI, the CPU PyTorch reference, clang.
debian_packages="build-essential pkg-config libzstd-dev zstd zlib1g-dev libarchive-dev
libjansson-dev libopenmpi-dev openmpi-bin perl bzip2 xz-utils time zip librsvg2-dev
python3 python3-venv python3-pip python3-numpy python3-torch libopenblas0-pthread
clang libclang-rt-dev"
# (clang and its runtime libraries, libFuzzer's among them: make fuzz.)
# (libopenblas0-pthread: without it Debian's torch runs on the reference BLAS,
# 100x slower, and bench/model-cpu.sh would compare against a crippled peer.)

# Python oracles, pinned to versions that work with Debian's torch 1.13.
python_packages="tiktoken==0.8.0 tokenizers==0.20.3 safetensors==0.4.5
transformers==4.46.3 unicodedata2==16.0.0 gguf==0.19.0"

say() { printf 'setup: %s\n' "$*" >&2; }

missing_debian_packages() {
	for p in $debian_packages; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed' || printf '%s ' "$p"
	done
}

install_debian_packages() {
	missing=$(missing_debian_packages)
	[ -z "$missing" ] && return 0
	say "installing Debian packages: $missing"
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

python_oracles_ready() {
	[ -x "$venv/bin/python" ] &&
		"$venv/bin/python" -c 'import tiktoken, tokenizers, transformers, safetensors, torch, numpy, unicodedata2, gguf' 2>/dev/null
}

install_python_oracles() {
	python_oracles_ready && return 0
	say "building the Python test oracles in $venv"
	/usr/bin/python3 -m venv --system-site-packages "$venv"
	# shellcheck disable=SC2086
	"$venv/bin/pip" install -q --disable-pip-version-check $python_packages
	python_oracles_ready || { say "python oracles failed to import"; exit 1; }
}

install_debian_packages
[ "${LMPIPE_NO_PYTHON:-0}" = 1 ] || install_python_oracles
say "dependencies ready"
