#!/bin/bash
test_description='share/text/input: plain, compressed, tar, zip, stdin, JSON lines'
. ./lib-test.sh

test_expect_success 'set up a text, its compressed forms and archives' '
	{ printf "caf\303\251 \342\202\254 line\n"; seq 1 20000; printf "no newline at end"; } >a.txt &&
	printf "second\n" >b.txt &&
	for c in gzip xz zstd bzip2; do $c -k -q a.txt || return 1; done &&
	mkdir d && cp a.txt b.txt d/ && mkdir d/sub &&
	tar cf t.tar d/a.txt d/sub d/b.txt && tar cJf t.tar.xz d/a.txt d/b.txt &&
	(cd d && zip -q ../z.zip a.txt b.txt) &&
	cat a.txt b.txt >ab.txt
'

for f in a.txt a.txt.gz a.txt.xz a.txt.zst a.txt.bz2; do
	test_expect_success "$f gives the text as one document" "
		test-tool input -d $f >out && head -n 1 out >first && echo @doc >expect &&
		test_cmp expect first && tail -n +2 out | cmp - a.txt
	"
done

test_expect_success 'stdin (-) gives the text' '
	test-tool input - <a.txt.gz >out && cmp out a.txt
'

test_expect_success 'tar: each regular member is a document, directories skipped' '
	test-tool input t.tar >out && cmp out ab.txt &&
	test-tool input -d t.tar | grep -o "@doc" | wc -l >n && echo 2 >expect && test_cmp expect n &&
	test-tool input t.tar.xz >out && cmp out ab.txt
'

test_expect_success 'zip: each member is a document' '
	test-tool input z.zip >out && cmp out ab.txt &&
	test-tool input -d z.zip | grep -o "@doc" | wc -l >n && echo 2 >expect && test_cmp expect n
'

test_expect_success 'an empty file gives nothing' '
	: >empty && test-tool input empty >out && test ! -s out
'

test_expect_success 'links in a tar are skipped and counted; a FIFO is an error naming it' '
	mkdir l && echo x >l/x && ln -s x l/link && ln l/x l/hard && tar cf l.tar l/x l/link l/hard &&
	test-tool input l.tar >out 2>err && echo x >expect && test_cmp expect out &&
	echo "links 2" >expect && test_cmp expect err &&
	mkfifo l/fifo && tar cf f.tar l/x l/fifo &&
	test_must_fail test-tool input f.tar >/dev/null 2>err &&
	grep -q "f.tar.: member .l/fifo. is a FIFO, not a regular file" err
'

test_expect_success 'a missing file: error' '
	test_must_fail test-tool input nosuch 2>err &&
	grep -q "cannot open .nosuch.: No such file or directory" err
'

test_expect_success 'a truncated compressed file: error' '
	head -c 2000 a.txt.xz >cut.xz &&
	test_must_fail test-tool input cut.xz >/dev/null 2>err && grep -q "cut.xz" err
'

test_expect_success 'JSON lines: one document a line, blank lines skipped, escapes decoded' '
	printf "{\"text\":\"a\\\\nb\",\"id\":1}\n\n{\"id\":2, \"text\":\"caf\\\\u00e9\"}\n{\"text\":\"\"}\n{\"text\":\"last\"}" >j.jsonl &&
	test-tool input -d -k text j.jsonl >out &&
	printf "@doc\na\nb@doc\ncaf\303\251@doc\nlast" >expect && test_cmp expect out &&
	gzip -k j.jsonl && test-tool input -d -k text j.jsonl.gz >out && test_cmp expect out
'

test_expect_success 'JSON lines: a long line across read blocks' '
	awk "BEGIN { printf \"{\\\"text\\\": \\\"\"; for (i = 0; i < 300000; i++) printf \"abcdefgh\"; print \"\\\"}\" }" >long.jsonl &&
	cat long.jsonl long.jsonl >two.jsonl &&
	test-tool input -d -k text two.jsonl >out &&
	test $(grep -o "@doc" out | wc -l) = 2 && test $(wc -c <out) = $((2 * (2400000 + 5)))
'

test_expect_success 'JSON lines: malformed line, missing key, not a string: errors naming the line' '
	printf "{\"text\":\"a\"}\n{\"text\": \"b\n" >bad1.jsonl &&
	test_must_fail test-tool input -k text bad1.jsonl 2>err &&
	grep -q "bad1.jsonl. line 2: malformed JSON" err &&
	printf "{\"text\":\"a\"}\n\n{\"txt\":\"b\"}\n" >bad2.jsonl &&
	test_must_fail test-tool input -k text bad2.jsonl 2>err &&
	grep -q "bad2.jsonl. line 3: no key .text." err &&
	printf "{\"text\":3}\n" >bad3.jsonl &&
	test_must_fail test-tool input -k text bad3.jsonl 2>err &&
	grep -q "bad3.jsonl. line 1: .text. is not a string" err &&
	(cd d && printf "{\"x\":1}\n" >c.jsonl && tar cf ../j.tar c.jsonl) &&
	test_must_fail test-tool input -k text j.tar 2>err &&
	grep -q "j.tar.: member .c.jsonl. line 1: no key" err
'

test_done
