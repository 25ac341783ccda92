#!/bin/bash
test_description='bpe-learn and share/text/input: archive members that are not regular files, empty documents'
. ./lib-test.sh

# The policy (text/input.h): directories and links are skipped (a link's
# target is read as a member of its own), with one warning that counts the
# links; a device, FIFO or socket member is an error naming it.

exit_code() {
	local want=$1
	shift
	"$@"
	local got=$?
	[ "$got" = "$want" ] || { echo "exit $got, wanted $want: $*"; return 1; }
}

test_expect_success 'set up: a source tree with symbolic, dangling and hard links' '
	mkdir -p src/lib src/include &&
	printf "int main(void) { return lib_call(42); }\n" >src/main.c &&
	printf "int lib_call(int x) { return x + 1; } /* the library */\n" >src/lib/lib.c &&
	printf "int lib_call(int x);\n" >src/include/lib.h &&
	ln -s ../lib/lib.c src/include/lib.c &&
	ln -s no/such/file src/dangling &&
	ln src/main.c src/main-hard.c &&
	tar cf src.tar src && tar cJf src.tar.xz src &&
	(cd src && zip -q -y -r ../src.zip . -x main-hard.c) &&
	cat src/main.c src/lib/lib.c src/include/lib.h >plain.txt
'

test_expect_success 'tar: the links are skipped; the text is each regular file once' '
	test-tool input src.tar >out 2>err &&
	sort out >got && sort plain.txt >want && test_cmp want got &&
	echo "links 3" >expect && test_cmp expect err
'

test_expect_success 'bpe-learn: one warning that counts the links, merges as from the files' '
	bpe-learn -v 280 src.tar >tar.bpe 2>err &&
	echo "bpe-learn: skipped 3 links in archives (the files they name are read as members)" >expect &&
	test_cmp expect err &&
	printf "%s\n" src/main.c src/lib/lib.c src/include/lib.h >list &&
	bpe-learn -v 280 $(tar tf src.tar | grep -v "/\$" | grep -Fx -f list) >files.bpe &&
	test_cmp files.bpe tar.bpe &&
	bpe-learn -v 280 src.tar.xz >xz.bpe 2>err && test_cmp tar.bpe xz.bpe &&
	test $(wc -l <err) = 1
'

test_expect_success 'several archives: still one warning, with the total' '
	bpe-learn -v 280 src.tar src.tar.xz >/dev/null 2>err &&
	grep -c "skipped 6 links" err >n && echo 1 >expect && test_cmp expect n &&
	test $(wc -l <err) = 1
'

test_expect_success 'zip with stored symbolic links (zip has no hard links): skipped too' '
	test-tool input src.zip >out 2>err &&
	sort out >got && test_cmp want got && grep -q "^links 2\$" err
'

test_expect_success 'no links: no warning' '
	tar cf plain.tar plain.txt && bpe-learn -v 280 plain.tar >/dev/null 2>err && test ! -s err
'

test_expect_success PYTHON 'a character device, a block device, a FIFO: errors naming them' '
	"$PYTHON" - <<-\PY &&
	import io, tarfile
	for name, kind in (("chr", tarfile.CHRTYPE), ("blk", tarfile.BLKTYPE), ("fifo", tarfile.FIFOTYPE)):
	    with tarfile.open(name + ".tar", "w", format=tarfile.GNU_FORMAT) as t:
	        data = b"some text\n"
	        ti = tarfile.TarInfo("ok.txt"); ti.size = len(data)
	        t.addfile(ti, io.BytesIO(data))
	        ti = tarfile.TarInfo("dev/" + name); ti.type = kind; ti.devmajor = 1; ti.devminor = 3
	        t.addfile(ti)
	PY
	for k in "chr:a character device" "blk:a block device" "fifo:a FIFO"; do
		exit_code 1 bpe-learn -o o.bpe ${k%%:*}.tar 2>err &&
		grep -q "^bpe-learn: .${k%%:*}.tar.: member .dev/${k%%:*}. is ${k#*:}, not a regular file\$" err &&
		test ! -e o.bpe || return 1
	done
'

test_expect_success PYTHON 'JSON lines: empty strings are no documents (same merges without them)' '
	"$PYTHON" - <<-\PY &&
	import json
	docs = ["hello world", "", "the cat sat on the mat", "", "", "hello cat"]
	with open("e.jsonl", "w") as f:
	    for d in docs:
	        f.write(json.dumps({"text": d}) + "\n")
	with open("ne.jsonl", "w") as f:
	    for d in docs:
	        if d:
	            f.write(json.dumps({"text": d}) + "\n")
	PY
	bpe-learn -v 280 --jsonl text e.jsonl >e.bpe && bpe-learn -v 280 --jsonl text ne.jsonl >ne.bpe &&
	test_cmp ne.bpe e.bpe && test $(wc -l <e.bpe) -gt 5
'

test_expect_success 'an empty file or member: nothing learned, a warning, a valid file' '
	: >empty.txt && tar cf empty.tar empty.txt &&
	bpe-learn -v 280 empty.tar >e.bpe 2>err && grep -q "only 0 merges" err &&
	echo "#version: 0.2" >expect && test_cmp expect e.bpe
'

test_expect_success '--stats: bytes read, pre-tokens, distinct, merges, on stderr only' '
	printf "hello hello hello world" >s.txt &&
	bpe-learn --stats -v 260 s.txt >s.bpe 2>err &&
	grep -q "^bpe-learn: 23 bytes read, 4 pre-tokens, 3 distinct\$" err &&
	grep -q "^bpe-learn: counting .* s (.* MB/s), 4 merges .* s\$" err &&
	test $(wc -l <s.bpe) = 5 && head -n 1 s.bpe | grep -q "^#version"
'

test_done
