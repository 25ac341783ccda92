# bench/lib-encode-corpora.sh — sourced by bench/bpe-encode.sh and
# bench/bpe-encode-where.sh: encode_corpora DIR SIZE_BYTES writes DIR/KIND.txt
# for each kind bench/bpe_encode_corpora.py makes (it says what each is).
# Faker and emoji are fetched once by pip, pinned by version and sha256, into
# build/bench-wheels (never installed). Needs PY (the venv's python) and D
# (the shared data directory, for the prose).

encode_corpora_wheel() {    # name version sha256: the wheel's path
	local w=build/bench-wheels f="build/bench-wheels/$1-$2-py3-none-any.whl"
	if [ ! -f "$f" ]; then
		mkdir -p "$w"
		"$PY" -m pip download -q --no-deps -d "$w" "$1==$2" >&2
	fi
	echo "$3  $f" | sha256sum -c --quiet >&2 || { echo "bench: $f: sha256 differs" >&2; return 1; }
	echo "$f"
}

encode_corpora() {    # DIR SIZE_BYTES
	local faker emoji site
	faker=$(encode_corpora_wheel faker 40.54.0 2dd88ee8cb63a9149e19ef48bdd73879bc3854d8ba2d6c1535e902a762e603f7) &&
	emoji=$(encode_corpora_wheel emoji 2.16.0 c4230d80640def9071599ff56b1b5950fe13a2a94c0da98c5deab12431b24330) &&
	site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') &&
	"$PY" bench/bpe_encode_corpora.py "$1" "$2" "$D" "$site" "$faker" "$emoji"
}
