#!/bin/bash
test_description='the test data: in the repository with its sources, or derived at set-up; nothing from ../shared

Every file under t/data is listed in t/data/SOURCES.md with its sha256;
GPT-2s vocab.bpe and encoder.json are derived from the fetched rank table
and match the sha256 that tiktoken pins; no test reads ../shared.'
. ./lib-test.sh

test_expect_success 'every file under t/data is in SOURCES.md, with its sha256' '
	(cd "$TEST_DATA" && find . -type f ! -name SOURCES.md | sed "s|^\./||" | sort) >files &&
	test -s files &&
	while read -r f; do
		sum=$(sha256sum "$TEST_DATA/$f" | cut -d" " -f1) &&
		grep -q "$(basename "$f")" "$TEST_DATA/SOURCES.md" || { echo "not in SOURCES.md: $f"; return 1; }
		grep -q "$sum" "$TEST_DATA/SOURCES.md" || { echo "sha256 of $f not in SOURCES.md: $sum"; return 1; }
	done <files
'

test_expect_success 'GPT-2 vocab.bpe and encoder.json: derived, with the sha256 tiktoken pins' '
	cat >expect <<-\EOF &&
	196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783  encoder.json
	1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5  vocab.bpe
	EOF
	(cd "$GPT2_DATA" && sha256sum encoder.json vocab.bpe) >got &&
	test_cmp expect got
'

test_expect_success 'derive-gpt2.py refuses a table that does not give those files' '
	TABLE="$LMPIPE_BIN/../../data/gpt2.tiktoken" &&
	sed 1000d "$TABLE" >short.tiktoken &&
	test_must_fail python3 "$TOP/scripts/derive-gpt2.py" short.tiktoken out 2>err &&
	grep "^derive-gpt2: " err &&
	test ! -e out/vocab.bpe && test ! -e out/encoder.json
'

test_expect_success 'no test reads ../shared' '
	(cd "$TEST_DIRECTORY" && grep -l "SHARED_DATA\|LMPIPE_SHARED[^=]\|\.\./shared" t[0-9]*.sh lib-*.sh lib-*.py py/*.py; test $? -le 1) >users &&
	sed -i "/^lib-test.sh\$/d; /^$SCRIPT_NAME.sh\$/d" users &&
	test_cmp /dev/null users
'

test_done
