#!/bin/bash
test_description='t/lib-test.sh: the &&-chain lint and test_expect_code'
. ./lib-test.sh

# Runs a script made of the lines on stdin as a test script of its own (in
# a copy of the harness beside it), its TAP on stdout, its stderr in err.
run_sub_script() {
	mkdir -p sub &&
	cp "$TEST_DIRECTORY/lib-test.sh" sub/ &&
	{
		printf '%s\n' '#!/bin/bash' '. ./lib-test.sh' &&
		cat &&
		echo test_done
	} >sub/t9999-sub.sh &&
	(cd sub && TEST_VERBOSE=0 bash t9999-sub.sh 2>../err)
}

test_expect_success 'a body without && between two lines is a failed test naming the line' '
	test_must_fail run_sub_script >out <<-\EOF &&
	test_expect_success "broken" "
		echo one >one &&
		echo two >two
		echo three >three
	"
	EOF
	grep "^not ok 1 - broken" out &&
	grep "t9999-sub.sh:5: broken &&-chain in test .broken.: no && after .echo two >two., so .echo three >three. (line 6) runs even when" err &&
	! test -e sub/trash/t9999-sub/one &&
	! test -e sub/trash/t9999-sub/three
'

test_expect_success 'the break is found past comments and blank lines, and in a helper file' '
	cat >helper.sh <<-\EOF &&
	helper_test() {
		test_expect_success "in a helper" "
			true &&
			false

			# a comment
			echo after
		"
	}
	EOF
	test_must_fail run_sub_script >out <<-EOF &&
	. "$PWD/helper.sh"
	helper_test
	EOF
	grep "helper.sh:4: broken &&-chain in test .in a helper.: no && after .false., so .echo after. (line 7)" err
'

test_expect_success 'a break before a function definition, which the trap cannot see, is found too' '
	test_must_fail run_sub_script >out <<-\EOF &&
	test_expect_success "fn" "
		false
		f() { true; }
	"
	EOF
	grep "t9999-sub.sh:3: broken &&-chain in test .fn. (its last link is not followed by &&)" err
'

test_expect_success 'a body that is not valid shell says so' '
	test_must_fail run_sub_script >out <<-\EOF &&
	test_expect_success "unclosed" "
		echo \"open &&
		true
	"
	EOF
	grep "t9999-sub.sh:3: test .unclosed. is not valid shell: " err
'

test_expect_success 'whole chains pass: loops, if, groups, subshells, here-documents' '
	run_sub_script >out <<-\EOF &&
	test_expect_success "whole" "
		for i in 1 2; do echo \$i || return 1; done >n &&
		if test -s n; then echo yes; else echo no; fi >y &&
		{ echo a; echo b; } >ab &&
		(cd . && echo sub) >s &&
		cat >doc <<-EOT &&
		here
		EOT
		f() { echo f; } &&
		f >fo
	"
	EOF
	grep "^ok 1 - whole" out &&
	! test -s err
'

test_expect_success 'TEST_CHAIN_LINT=0 turns the lint off' '
	TEST_CHAIN_LINT=0 run_sub_script >out <<-\EOF &&
	test_expect_success "unlinted" "
		false
		true
	"
	EOF
	grep "^ok 1 - unlinted" out
'

test_expect_success 'TEST_CHAIN_LINT_ONLY=1 checks every body, runs none, and skips no script' '
	TEST_CHAIN_LINT_ONLY=1 test_must_fail run_sub_script >out <<-\EOF &&
	skip_all "not here"
	test_expect_success "whole" "
		echo ran >ran
	"
	test_expect_success NOSUCH "broken" "
		false
		true
	"
	EOF
	grep "^ok 1 - whole" out &&
	grep "^not ok 2 - broken" out &&
	grep "bug: t9999-sub.sh:8: broken &&-chain in test .broken." out &&
	ls sub/trash/lint-t9999-sub &&
	! test -e sub/trash/lint-t9999-sub/ran
'

test_expect_success 'test_expect_code: the exact status passes, another fails and says so' '
	test_expect_code 3 sh -c "exit 3" &&
	test_must_fail test_expect_code 2 sh -c "exit 1" >out &&
	grep "test_expect_code: exit 1, wanted 2: sh -c exit 1" out &&
	test_must_fail test_expect_code 2 true
'

test_expect_success 'test_expect_code outside a test body bails out' '
	test_must_fail run_sub_script >out <<-\EOF &&
	test_expect_code 2 "title" "false"
	EOF
	grep "^Bail out! t9999-sub:3: test_expect_code is used in a test body" out
'

test_done
