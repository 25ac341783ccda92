#!/bin/bash
test_description='share/ckpt/safetensors: the reader takes what the safetensors library takes

The header is JSON and nothing else but whitespace padding; the tensors tile
the data section (in the order of their offsets, each where the previous one
ends, the first at 0, the last at the end of the file). Files made by hand
here; the safetensors library itself judges the same files when Python is
there.'
. ./lib-test.sh

# st_file FILE HEADER NBYTES [PAD]: the 8-byte little-endian header length,
# the HEADER JSON, PAD (a printf format: \000 is a NUL), then NBYTES bytes
# of data (zeros).
st_file() {
	printf "${4:-}" >pad.bin
	local n=$((${#2} + $(wc -c <pad.bin)))
	{
		printf "\\$(printf %03o $((n & 255)))\\$(printf %03o $((n >> 8)))"
		printf '\000\000\000\000\000\000'
		printf "%s" "$2"
		cat pad.bin
		head -c "$3" /dev/zero
	} >"$1"
}

f32() { echo "\"$1\":{\"dtype\":\"F32\",\"shape\":[$2],\"data_offsets\":[$3,$4]}"; }

test_expect_success 'well-formed files open: padding, header order unlike offset order, empty tensors' '
	st_file two.safetensors "{$(f32 a 2 0 8),$(f32 b 2 8 16)}" 16 &&
	st_file spaces.safetensors "{$(f32 a 2 0 8)}" 8 "    " &&
	st_file newline.safetensors "{$(f32 a 2 0 8)}" 8 "\n\t\r " &&
	st_file order.safetensors "{$(f32 b 2 8 16),$(f32 a 2 0 8)}" 16 &&
	st_file empty.safetensors "{$(f32 e 0 0 0),$(f32 a 2 0 8),$(f32 z 0 8 8)}" 8 &&
	for f in two spaces newline order empty; do
		test-tool ckpt tensors $f.safetensors >$f.out || exit 1
	done &&
	printf "a ndim=1 sum=0\nb ndim=1 sum=0\n" >expect && test_cmp expect two.out &&
	printf "b ndim=1 sum=0\na ndim=1 sum=0\n" >expect && test_cmp expect order.out &&
	test $(wc -l <empty.out) = 3
'

# name, header, data bytes, pad, what the error says
bad_files='
overlap|{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}|8||data_offsets [0, 8] overlap tensor
inside|{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}|16||overlap tensor
shifted|{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}|16||leave bytes [0, 8) of the data unused
gap|{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}|12||leave bytes [4, 8) of the data unused
tail|{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}|16||8 bytes after the last tensor
nul|{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}|8|\000junk|invalid JSON header
garbage|{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}|8|xx|invalid JSON header
size|{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}|8||8 bytes for 2 elements of F16
'

test_expect_success 'overlapping, shifted or gapped offsets, trailing data and a header with garbage are errors' '
	echo "$bad_files" | while IFS="|" read -r name header bytes pad says; do
		[ -n "$name" ] || continue
		st_file $name.safetensors "$header" "$bytes" "$pad" &&
		test_must_fail test-tool ckpt tensors $name.safetensors 2>err &&
		test_error_mentions err "$name.safetensors" "$says" || exit 1
	done
'

test_expect_success PYTHON 'the safetensors library judges the same files the same way' '
	"$PYTHON" - <<-\EOF
	from safetensors.numpy import load_file
	good = ["two", "spaces", "newline", "order", "empty"]
	bad = ["overlap", "inside", "shifted", "gap", "tail", "nul", "garbage", "size"]
	for name in good:
	    load_file(name + ".safetensors")
	for name in bad:
	    try:
	        load_file(name + ".safetensors")
	    except Exception:
	        continue
	    raise SystemExit(name + ": the safetensors library took it")
	EOF
'

test_expect_success 'a checkpoint whose header is broken says so, not that its config is missing' '
	st_file broken.safetensors "{\"__metadata__\":{\"config\":\"{}\"},$(f32 a 2 0 8)}" 8 "\000junk" &&
	test_must_fail test-tool config broken.safetensors 2>err &&
	test_error_mentions err "broken.safetensors" "invalid JSON header" &&
	! grep -q "no model config" err &&
	st_file cut.safetensors "{\"__metadata__\":{\"config\":" 0 &&
	test_must_fail test-tool config cut.safetensors 2>err &&
	test_error_mentions err "cut.safetensors" "invalid JSON header" &&
	! grep -q "no model config" err &&
	test_must_fail lm-sample broken.safetensors -p hi -n 1 2>err &&
	test_error_mentions err "lm-sample: " "broken.safetensors" "invalid JSON header"
'

test_done
