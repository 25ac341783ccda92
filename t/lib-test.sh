# lib-test.sh — the test harness every t/tNNNN-*.sh script sources.
#
# After git's t/test-lib.sh, much reduced. A script sets test_description,
# sources this file, runs test_expect_success blocks, and ends with
# test_done. Output is TAP, for prove.
#
#   test_expect_success [PREREQ,...] 'title' 'shell commands'
#   test_cmp EXPECTED ACTUAL                    diff -u, shown on failure
#   test_must_fail CMD...                       exit 1..125 (not a crash)
#   test_expect_code N CMD...                   exit status exactly N (in a body)
#   test_set_prereq NAME / test_have_prereq NAME
#   skip_all 'reason'                           skip the whole script
#
# A test body is one &&-chain, as in git: a line that does not end in &&
# lets a failure above it pass unseen. Before running a body, the harness
# checks its chain (test_chain_lint_) and reports a break as a failed test
# naming the script's line; TEST_CHAIN_LINT=0 turns the check off, and
# TEST_CHAIN_LINT_ONLY=1 checks every body (prerequisites or not) and runs
# none: for script in t[0-9]*.sh; do TEST_CHAIN_LINT_ONLY=1 bash $script; done
#
# Each script runs in its own scratch directory t/trash/<script>/, removed
# when every test passes and kept when one fails, for a look afterwards.
#
# Prerequisites set here (a script may set its own): PYTHON (the oracles in
# .venv: tiktoken, HF tokenizers, transformers, torch, numpy; LMPIPE_PYTHON
# names another Python that has them), and from what the tools under test
# were built with (`lm-train --version`, `lm-stat --version`): MPI (built
# with MPI, and mpirun here), RSVG (lm-stat renders PNG), CUDA (built with
# CUDA, real or emulated), CUDA_EMU (the CUDA layer is t/cuda-emu, the host
# emulation of make CUDA=emu: the GPU model's wiring runs, none of our
# kernels); and GPU (nvidia-smi sees one), CUDA_RUN (the CUDA model can run
# here: the real layer on a GPU, or the emulation).
#
# Only a test that needs a GPU may skip (GPU_PREREQS, or the absence of one
# of them): a test lacking any other prerequisite fails, naming it, since
# the CPU suite is what CI runs and a skip there would hide a gap. Every
# skip and every such failure is appended to $LMPIPE_SKIP_LOG when it is
# set (make check lists them at the end).
#
# Test data: $TEST_DATA (t/data, committed, see t/data/SOURCES.md) and
# $GPT2_DATA (GPT-2's vocab.bpe and encoder.json, derived at set-up from
# the sha256-pinned rank table: make testdata; LMPIPE_GPT2_DATA elsewhere).
#
# Environment: LMPIPE_BIN (tools under test; default build/rel/bin),
# LMPIPE_REL_BIN (optimized tools, for the heavier tests), -v or
# TEST_VERBOSE=1 to see commands' output.

set -u

TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$TEST_DIRECTORY/.." && pwd)
SCRIPT_NAME=$(basename "$0" .sh)
TEST_DATA=$TEST_DIRECTORY/data
GPT2_DATA=${LMPIPE_GPT2_DATA:-$TOP/build/testdata/gpt2}
LMPIPE_BIN=${LMPIPE_BIN:-$TOP/build/rel/bin}
LMPIPE_REL_BIN=${LMPIPE_REL_BIN:-$TOP/build/rel/bin}
LMPIPE_BIN=$(cd "$LMPIPE_BIN" 2>/dev/null && pwd) || { echo "Bail out! no tools at \$LMPIPE_BIN (run make)"; exit 1; }
LMPIPE_REL_BIN=$(cd "$LMPIPE_REL_BIN" 2>/dev/null && pwd) || LMPIPE_REL_BIN=$LMPIPE_BIN
PYTHON=${LMPIPE_PYTHON:-$TOP/.venv/bin/python}
export PATH="$LMPIPE_BIN:$PATH" TEST_DATA GPT2_DATA TOP PYTHON LMPIPE_REL_BIN
# Leaks in third-party libraries (OpenMPI, libgomp) are not ours to fix;
# every other ASan/UBSan finding fails the test.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

case " $* " in *" -v "*) TEST_VERBOSE=1 ;; esac
TEST_VERBOSE=${TEST_VERBOSE:-0}

test_count=0
test_failed=0
test_skipped=0
# (a lint-only run keeps out of a real run's way)
[ "${TEST_CHAIN_LINT_ONLY:-0}" = 1 ] && SCRIPT_NAME=lint-$SCRIPT_NAME
TRASH_DIRECTORY=$TEST_DIRECTORY/trash/$SCRIPT_NAME
rm -rf "$TRASH_DIRECTORY"
mkdir -p "$TRASH_DIRECTORY" || { echo "Bail out! cannot make $TRASH_DIRECTORY"; exit 1; }
cd "$TRASH_DIRECTORY" || exit 1

# ---- prerequisites ----------------------------------------------------------

PREREQS=" "
test_set_prereq() { PREREQS="$PREREQS$1 "; }
# PREREQ,... all present; !NAME means NAME must be absent (the other side
# of a feature test).
test_have_prereq() {
	for p in $(echo "$1" | tr , ' '); do
		case "$p" in
		!*) case "$PREREQS" in *" ${p#!} "*) return 1 ;; esac ;;
		*) case "$PREREQS" in *" $p "*) ;; *) return 1 ;; esac ;;
		esac
	done
}
prereq_reason() {
	case $1 in
	!CUDA_EMU) echo "the CUDA layer is the host emulation: its kernels are their CPU twins" ;;
	!*) echo "${1#!} is present, so the test of its absence does not apply" ;;
	RSVG) echo "lm-stat was built without librsvg and cairo (its --version: $(tool_features lm-stat))" ;;
	PYTHON) echo "no Python oracles in $TOP/.venv (run make deps)" ;;
	MPI) if have_feature lm-train mpi; then echo "no mpirun (openmpi-bin)"
		else echo "lm-train was built without MPI (its --version: $(tool_features lm-train))"; fi ;;
	GPU) echo "no NVIDIA GPU on this machine" ;;
	CUDA) echo "the tools were built without CUDA (no nvcc at build time)" ;;
	CUDA_EMU) echo "the CUDA layer is not the host emulation (make CUDA=emu)" ;;
	CUDA_RUN) echo "no GPU, and the CUDA layer is not the host emulation (make CUDA=emu)" ;;
	NCCL) echo "the tools were built without NCCL (no CUDA)" ;;
	GPUS2) echo "fewer than two GPUs here" ;;
	GPUS4) echo "fewer than four GPUs here" ;;
	*) echo "missing prerequisite $1" ;;
	esac
}

# The prerequisites a missing one of which skips a test: those of a GPU.
GPU_PREREQS=" GPU CUDA CUDA_RUN CUDA_EMU NCCL GPUS2 GPUS4 "
prereq_may_skip() {
	case "$GPU_PREREQS" in *" ${1#!} "*) return 0 ;; esac
	return 1
}

# The features TOOL under test was built with ("+cuda -emu +mpi +png"),
# from its --version; have_feature TOOL NAME: built with NAME.
tool_features() {
	"$LMPIPE_BIN/$1" --version 2>/dev/null | sed -n 's/.*(\([^()]*\))$/\1/p'
}
have_feature() {
	case " $(tool_features "$1") " in *" +$2 "*) return 0 ;; esac
	return 1
}

[ -x "$PYTHON" ] && "$PYTHON" -c 'import tiktoken, tokenizers, torch, numpy' 2>/dev/null &&
	test_set_prereq PYTHON
have_feature lm-train mpi && command -v mpirun >/dev/null 2>&1 && test_set_prereq MPI
have_feature lm-stat png && test_set_prereq RSVG
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && test_set_prereq GPU
if have_feature lm-train cuda; then
	test_set_prereq CUDA
	have_feature lm-train emu && test_set_prereq CUDA_EMU
fi
{ test_have_prereq GPU,CUDA || test_have_prereq CUDA_EMU; } && test_set_prereq CUDA_RUN

# ---- running tests -----------------------------------------------------------

say_verbose() { [ "$TEST_VERBOSE" = 1 ] && printf '# %s\n' "$@"; return 0; }

test_run_() {
	if [ "$TEST_VERBOSE" = 1 ]; then
		(TEST_IN_BODY_=1; eval "$1") 2>&1 | sed 's/^/# /'
		return "${PIPESTATUS[0]:-0}"
	fi
	(TEST_IN_BODY_=1; eval "$1") >"$TRASH_DIRECTORY/.out" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		sed 's/^/# /' "$TRASH_DIRECTORY/.out" | tail -n 40
	fi
	return $rc
}

# ---- the &&-chain lint ------------------------------------------------------
# After git's test_run_: evaluate "test_chain_117_ && BODY". With the chain
# whole, the sentinel's status 117 skips every command of the body. With it
# broken, the first command after the break runs: a DEBUG trap catches it
# before it runs (so the check has no side effects) and prints its line.
# A break the trap cannot see (a function definition ending the chain) still
# shows in the status not being 117.

test_chain_117_() { return 117; }

# Prints the line of the first command that runs after a break (counted
# from the body's first line, 1), 0 for a break without one, and nothing
# for a whole chain.
test_chain_break_() {
	(
		# One line: LINENO counts the trap's own lines too.
		trap 'case $BASH_COMMAND in test_chain_117_) test_chain_base_=$LINENO ;; eval\ *|test_chain_rc_=*|trap\ -\ DEBUG) ;; *) echo "$((LINENO - test_chain_base_ + 1))"; exit 0 ;; esac' DEBUG
		eval "test_chain_117_ && $1"
		test_chain_rc_=$?
		trap - DEBUG
		[ "$test_chain_rc_" = 117 ] || echo 0
	) 2>/dev/null </dev/null
}

# The body's last line that holds a command, up to line $2 (exclusive).
test_chain_prev_line_() {
	printf '%s\n' "$1" | awk -v n="$2" '
		NR < n && $0 !~ /^[ \t]*(#.*)?$/ { line = NR }
		END { print line + 0 }'
}

# Line $2 of body $1, without its indent.
test_body_line_() { printf '%s\n' "$1" | sed -n "${2}{s/^[[:space:]]*//;p;}"; }

# test_chain_lint_ TITLE BODY DEPTH: 0 when BODY's chain is whole, else
# prints where it breaks and returns 1. DEPTH: the caller's frames above
# test_expect_success, so the line is the script's own.
test_chain_lint_() {
	[ "${TEST_CHAIN_LINT:-1}" = 0 ] && return 0
	local at prev file line
	at=$(test_chain_break_ "$2")
	[ -z "$at" ] && return 0
	file=${BASH_SOURCE[$3 + 1]##*/} line=${BASH_LINENO[$3]}
	if [ "$at" = 0 ]; then
		if ! bash -n -c "$2" 2>/dev/null; then
			echo "bug: $file:$line: test '$1' is not valid shell: $(bash -n -c "$2" 2>&1 | head -1)"
		else
			echo "bug: $file:$line: broken &&-chain in test '$1' (its last link is not followed by &&)"
		fi
		return 1
	fi
	prev=$(test_chain_prev_line_ "$2" "$at")
	echo "bug: $file:$((line + prev - 1)): broken &&-chain in test '$1': no && after" \
		"'$(test_body_line_ "$2" "$prev")', so '$(test_body_line_ "$2" "$at")'" \
		"(line $((line + at - 1))) runs even when what came before failed"
	return 1
}

test_ok_() { echo "ok $test_count - $1"; }
test_not_ok_() {
	test_failed=$((test_failed + 1))
	echo "not ok $test_count - $1"
	printf '%s\n' "$2" | sed 's/^/#	/'
}
# A line for make check's list of skips: "SCRIPT N (TOOLS): TITLE: REASON",
# TOOLS the build under test (make check runs family 7 on two).
skip_log_() {
	[ -n "${LMPIPE_SKIP_LOG:-}" ] && printf '%s %s (%s): %s: %s\n' "$SCRIPT_NAME" "$test_count" \
		"${LMPIPE_BIN#"$TOP"/}" "$1" "$2" >>"$LMPIPE_SKIP_LOG"
	return 0
}
test_skip_() {
	test_skipped=$((test_skipped + 1))
	echo "ok $test_count # skip $1 ($2)"
	skip_log_ "$1" "$2"
}
# A missing prerequisite that is not a GPU's: a failure, not a skip.
test_missing_() {
	test_not_ok_ "$1" "missing prerequisite $2: $3 (only a test that needs a GPU may skip)"
	skip_log_ "$1" "FAILED, missing $2: $3"
}

test_expect_success() {
	local prereq=""
	[ $# -eq 3 ] && { prereq=$1; shift; }
	test_count=$((test_count + 1))
	local lint
	if [ "${TEST_CHAIN_LINT_ONLY:-0}" = 1 ]; then
		if lint=$(test_chain_lint_ "$1" "$2" 1); then test_ok_ "$1"; else test_not_ok_ "$1" "$lint"; fi
		return 0
	fi
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		for p in $(echo "$prereq" | tr , ' '); do
			test_have_prereq "$p" && continue
			if prereq_may_skip "$p"; then
				test_skip_ "$1" "$(prereq_reason "$p")"
			else
				test_missing_ "$1" "$p" "$(prereq_reason "$p")"
			fi
			return 0
		done
	fi
	say_verbose "run: $1"
	if ! lint=$(test_chain_lint_ "$1" "$2" 1); then
		test_not_ok_ "$1" "$lint"
		echo "$lint" >&2
	elif test_run_ "$2"; then test_ok_ "$1"; else test_not_ok_ "$1" "$2"; fi
}

skip_all() {
	[ "${TEST_CHAIN_LINT_ONLY:-0}" = 1 ] && return 0
	echo "1..0 # SKIP $1"
	skip_log_ "all" "$1"
	cd "$TEST_DIRECTORY" && rm -rf "$TRASH_DIRECTORY"
	exit 0
}

test_done() {
	echo "1..$test_count"
	if [ "$test_failed" -eq 0 ]; then
		cd "$TEST_DIRECTORY" && rm -rf "$TRASH_DIRECTORY"
		exit 0
	fi
	echo "# failed $test_failed of $test_count; scratch kept in $TRASH_DIRECTORY"
	exit 1
}

# ---- helpers for test bodies ----------------------------------------------

test_cmp() { diff -u "$1" "$2"; }

# tiktoken's gpt2 ids of FILE (its UTF-8 as it is, \r\n kept) written to OUT
# as uint16: t/lib-tiktoken.py's encode_file. Needs the PYTHON prerequisite.
tiktoken_gpt2_ids() {
	"$PYTHON" -c 'import sys, importlib; sys.path.insert(0, sys.argv[1]); lt = importlib.import_module("lib-tiktoken"); lt.encode_file(lt.gpt2(), sys.argv[2], sys.argv[3])' \
		"$TEST_DIRECTORY" "$1" "$2"
}

# The pre-tokens of FILE by the gpt2 pattern (Python's regex module, the
# pattern of t/lib-tiktoken.py), in hex a line; each byte that begins no
# valid character is a lone surrogate there (surrogateescape), so of class
# other, as pretok.h says. Needs the PYTHON prerequisite.
gpt2_pattern_split() {
	"$PYTHON" - "$TEST_DIRECTORY" "$1" <<-\PYEOF
	import sys, importlib, regex
	sys.path.insert(0, sys.argv[1])
	pat = regex.compile(importlib.import_module("lib-tiktoken").GPT2_PAT)
	text = open(sys.argv[2], "rb").read().decode("utf-8", "surrogateescape")
	for m in pat.finditer(text):
	    print(m.group().encode("utf-8", "surrogateescape").hex())
	PYEOF
}

# A command must fail cleanly: exit 1..125, not a signal or sanitizer abort.
test_must_fail() {
	"$@"
	local rc=$?
	if [ $rc -eq 0 ]; then
		echo "test_must_fail: command succeeded: $*"
		return 1
	elif [ $rc -gt 125 ]; then
		echo "test_must_fail: command died with $rc: $*"
		return 1
	fi
	return 0
}

# test_expect_code N CMD...: CMD exits with status exactly N (git's helper;
# it belongs in a test body, as test_must_fail does).
test_expect_code() {
	if [ "${TEST_IN_BODY_:-}" != 1 ]; then
		echo "Bail out! $SCRIPT_NAME:${BASH_LINENO[0]}: test_expect_code is used in a test body:" \
			"test_expect_success 'title' 'test_expect_code N cmd...'"
		exit 1
	fi
	local want=$1
	shift
	"$@"
	local got=$?
	[ "$got" = "$want" ] && return 0
	echo "test_expect_code: exit $got, wanted $want: $*"
	return 1
}

# stderr of a failing command must name the tool and mention WORDS.
test_error_mentions() {
	local file=$1; shift
	for w in "$@"; do
		grep -qF -- "$w" "$file" || { echo "error message lacks '$w':"; cat "$file"; return 1; }
	done
}
