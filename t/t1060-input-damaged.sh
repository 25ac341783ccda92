#!/bin/bash
test_description='share/text/input: damaged archives and compressed streams are errors, never text

A gzip CRC or length mismatch, corrupt deflate data, a zip member whose CRC
does not match, a tar header whose checksum does not (the first one too), a
compressed member inside a tar: each is an error naming the tool and the
file (and the member), exit 1.'
. ./lib-test.sh

test_expect_success 'set up a text, its gzip, a tar and zips' '
	seq 1 300000 >a.txt && gzip -k a.txt &&
	mkdir d && seq 1 20000 >d/a.txt && seq 5 9 >d/b.txt &&
	tar cf ok.tar d/a.txt d/b.txt &&
	(cd d && zip -q ../z.zip a.txt && zip -q -0 ../zs.zip a.txt) &&
	gzip -k d/a.txt && tar cf gzm.tar d/b.txt d/a.txt.gz &&
	xz -k d/b.txt && tar cf xzm.tar d/b.txt.xz
'

# flip FILE OFFSET OUT: OUT is FILE with the byte at OFFSET (negative: from
# the end) changed.
flip() {
	python3 -c "import sys
b = bytearray(open(sys.argv[1], \"rb\").read()); b[int(sys.argv[2])] ^= 0x55
open(sys.argv[3], \"wb\").write(b)" "$@"
}

# fails_with MESSAGE CMD...: CMD exits 1 and its stderr is MESSAGE.
fails_with() {
	local msg=$1; shift
	test_exit_is 1 "$@" >/dev/null 2>err && printf "%s\n" "$msg" >expect && test_cmp expect err
}

test_expect_success 'the intact files read whole' '
	test-tool input a.txt.gz | cmp - a.txt &&
	test-tool input - <a.txt.gz | cmp - a.txt &&
	cat a.txt.gz a.txt.gz >twice.gz && cat a.txt a.txt >twice.txt &&
	test-tool input twice.gz | cmp - twice.txt &&
	cat d/a.txt d/b.txt >ab.txt && test-tool input ok.tar | cmp - ab.txt &&
	test-tool input z.zip | cmp - d/a.txt && test-tool input zs.zip | cmp - d/a.txt
'

test_expect_success 'a gzip whose CRC-32 does not match: error' '
	flip a.txt.gz -8 crc.gz &&
	fails_with "test-tool: '\''crc.gz'\'': corrupt gzip stream: incorrect data check" test-tool input crc.gz &&
	fails_with "bpe-encode: '\''crc.gz'\'': corrupt gzip stream: incorrect data check" bpe-encode crc.gz &&
	fails_with "test-tool: '\''stdin'\'': corrupt gzip stream: incorrect data check" test-tool input - <crc.gz
'

test_expect_success 'a gzip whose length does not match: error' '
	flip a.txt.gz -2 len.gz &&
	fails_with "test-tool: '\''len.gz'\'': corrupt gzip stream: incorrect length check" test-tool input len.gz
'

test_expect_success 'a gzip with a damaged block past the first MiB of text: error' '
	size=$(wc -c <a.txt.gz) && flip a.txt.gz $((size * 3 / 4)) mid.gz &&
	test_exit_is 1 test-tool input mid.gz >/dev/null 2>err &&
	grep -q "^test-tool: '\''mid.gz'\'': corrupt gzip stream: " err
'

test_expect_success 'a truncated gzip, and garbage after one: errors' '
	head -c 30000 a.txt.gz >cut.gz &&
	fails_with "test-tool: '\''cut.gz'\'': truncated gzip stream" test-tool input cut.gz &&
	{ cat a.txt.gz && echo junk; } >junk.gz &&
	fails_with "test-tool: '\''junk.gz'\'': data after the end of the gzip stream" test-tool input junk.gz
'

test_expect_success 'a zip member whose CRC does not match (deflated or stored): error naming it' '
	for z in z.zip zs.zip; do
		size=$(wc -c <$z) && flip $z $((size / 2)) bad-$z &&
		test_exit_is 1 test-tool input bad-$z >/dev/null 2>err &&
		grep -q "^test-tool: '\''bad-$z'\'': member '\''a.txt'\'': ZIP bad CRC" err || return 1
	done
'

test_expect_success 'a tar whose first header is damaged: error, not read as text' '
	flip ok.tar 100 first.tar &&
	fails_with "test-tool: '\''first.tar'\'': a tar archive whose first header is damaged" test-tool input first.tar &&
	fails_with "bpe-encode: '\''first.tar'\'': a tar archive whose first header is damaged" bpe-encode first.tar
'

test_expect_success 'a text with "ustar" where a tar has its magic is still text' '
	{ head -c 256 /dev/zero | tr "\0" x && echo "mustard and custard"; } >mustard.txt &&
	test-tool input mustard.txt | cmp - mustard.txt
'

test_expect_success 'a tar whose second header is damaged: error after the first member' '
	off=$(grep -abo "d/b.txt" ok.tar | head -n 1 | cut -d: -f1) &&
	flip ok.tar $((off + 100)) second.tar &&
	fails_with "test-tool: '\''second.tar'\'': after member '\''d/a.txt'\'': Damaged tar archive" test-tool input second.tar
'

test_expect_success 'a compressed member in a tar: error naming it and its compression' '
	fails_with "test-tool: '\''gzm.tar'\'': member '\''d/a.txt.gz'\'' is compressed (gzip): decompress the members (or compress the whole archive instead)" test-tool input gzm.tar &&
	fails_with "test-tool: '\''xzm.tar'\'': member '\''d/b.txt.xz'\'' is compressed (xz): decompress the members (or compress the whole archive instead)" test-tool input xzm.tar
'

test_expect_success 'JSON lines with empty strings: skipped, nothing leaked' '
	for i in 1 2 3 4 5; do echo "{\"text\": \"\"}"; done >e.jsonl &&
	echo "{\"text\": \"x\"}" >>e.jsonl &&
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 test-tool input -d -k text e.jsonl >out &&
	printf "@doc\nx" >expect && test_cmp expect out
'

test_done
