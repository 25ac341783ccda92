#!/bin/sh
# fetch-gpt2.sh — obtain GPT-2's BPE rank table (gpt2.tiktoken), bpe-encode's
# default merges, from a package that ships it: PyPI's openai-whisper (its
# whisper/assets/gpt2.tiktoken), fetched with `pip download --no-deps`.
# Checks the table's sha256 and places it in DEST (default build/data), which
# `make install` copies to $(PREFIX)/share/lmpipe. OpenAI's files are not in
# this repository.
#
# usage: scripts/fetch-gpt2.sh [DEST_DIR]
set -eu

WHISPER_VERSION=20250625
TABLE_SHA256=306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930
dest=${1:-build/data}
out="$dest/gpt2.tiktoken"

say() { printf 'fetch-gpt2: %s\n' "$*" >&2; }

if [ -f "$out" ] && echo "$TABLE_SHA256  $out" | sha256sum -c --quiet - 2>/dev/null; then
	exit 0
fi
pip=""
for p in .venv/bin/pip "python3 -m pip"; do
	if $p --version >/dev/null 2>&1; then pip=$p; break; fi
done
[ -n "$pip" ] || { say "cannot fetch: no pip (install python3-pip)"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say "downloading openai-whisper==$WHISPER_VERSION from PyPI (for its gpt2.tiktoken)"
if ! $pip download --quiet --no-deps --no-binary :all: "openai-whisper==$WHISPER_VERSION" -d "$tmp" >&2; then
	say "cannot download openai-whisper from PyPI"
	exit 1
fi
sdist=$(ls "$tmp"/*.tar.gz)
tar -xzf "$sdist" -C "$tmp" --wildcards '*/whisper/assets/gpt2.tiktoken'
got=$(ls "$tmp"/*/whisper/assets/gpt2.tiktoken)
if ! echo "$TABLE_SHA256  $got" | sha256sum -c --quiet - >/dev/null 2>&1; then
	say "gpt2.tiktoken has an unexpected sha256: not installed"
	exit 1
fi
mkdir -p "$dest"
cp "$got" "$out.tmp.$$" && mv "$out.tmp.$$" "$out"
say "GPT-2's rank table is in $out"
