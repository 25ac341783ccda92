#!/bin/bash
test_description='share/tok/pretok: GPT-2 pre-tokenization, character classes and safe cuts'
. ./lib-test.sh

TD=$(cd "$TEST_DIRECTORY" && pwd)

test_expect_success 'pieces of a small text' '
	printf "hello\n\n\nworld I'"'"'LL don'"'"'t  x \377\376!" | test-tool pretok split >out &&
	cat >expect <<-\EOF &&
	68656c6c6f
	0a0a
	0a
	776f726c64
	2049
	27
	4c4c
	20646f6e
	2774
	20
	2078
	20fffe21
	EOF
	test_cmp expect out
'

test_expect_success 'tables are of Unicode 16.0.0 (the version of tiktoken 0.8.0 regex engine)' '
	echo 16.0.0 >expect && test-tool pretok version >out && test_cmp expect out
'

test_expect_success PYTHON 'every code point has the class tiktoken gives it' '
	test-tool pretok classes >mine &&
	"$PYTHON" -c "import sys; sys.path.insert(0, \"$TD\"); import importlib; importlib.import_module(\"lib-tiktoken\").probe_classes(\"theirs\")" &&
	test_cmp theirs mine
'

# The flat table of the three-byte sequences: the class of each code point
# of U+0800..U+FFFF as the two-stage table gives it (the surrogates other),
# other below (overlong forms).
test_expect_success 'the three-byte table agrees with the classes of the code points' '
	test-tool pretok classes >classes &&
	awk '"'"'cp == 55296 { for (; cp < 57344; cp++) printf "%X 0\n", cp }
	     $1 != sprintf("%X", cp) { exit 1 }
	     cp < 65536 { printf "%X %d\n", cp, cp < 2048 ? 0 : $2 }
	     { cp++ }'"'"' classes >expect &&
	test-tool pretok three >out &&
	test_cmp expect out
'

test_expect_success PYTHON 'the committed tables are what the generator writes' '
	if "$PYTHON" -c "import unicodedata2, sys; sys.exit(unicodedata2.unidata_version != \"16.0.0\")"
	then
		"$PYTHON" "$TD/../scripts/gen-unicode-tables.py" >gen.c &&
		test_cmp "$TD/../share/tok/unicode_tables.c" gen.c
	else
		echo "unicodedata2 is not 16.0.0: run scripts/setup-deps.sh" && false
	fi
'

test_expect_success 'safe cuts keep the pieces of the whole' '
	printf "hello\n\n\nworld don'"'"'t  I'"'"'LL  \t x1 2.5%% \342\200\250 \302\205x caf\303\251 \344\275\240\345\245\275\343\200\202 \360\237\221\215\360\237\217\275 a\314\201b \377 \355\240\200 \300\257 x'"'"' '"'"''"'"'s  \n  y" >adv &&
	for i in 1 2 3; do cat adv adv; done >adv3 &&
	test-tool pretok cuts <adv3 >out && grep "^cuts [1-9][0-9]* ok$" out
'

test_expect_success 'safe cuts on real text' '
	head -c 20000 "$TEST_DATA/cs336/tinystories_sample.txt" >ts &&
	test-tool pretok cuts <ts >out && grep "^cuts [1-9][0-9]* ok$" out
'

test_done
