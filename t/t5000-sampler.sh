#!/bin/bash
test_description='share/sample/sampler: greedy, temperature, top-k, top-p, seeded draws'
. ./lib-test.sh

LOGITS='1 2 3 0.5 2.5 -1 2.9 0 -3 1.7'

test_expect_success 'temperature 0 is the argmax (lowest id among equal maxima)' '
	test-tool sample probs -t 0 -- 1 3 3 2 >out &&
	printf "0\n1\n0\n0\n" >expect && test_cmp expect out &&
	test-tool sample draw -t 0 -n 100 -- 0.5 -2 4 1 | head -n 4 >out &&
	printf "0 0 0.000\n1 0 0.000\n2 100 100.000\n3 0 0.000\n" >expect && test_cmp expect out
'

test_expect_success 'no filter: softmax(logits / T), by hand' '
	test-tool sample probs -t 0.5 -- 0 0.5 >out &&
	awk "NR==1 { want = 1 / (1 + exp(1)) } NR==2 { want = exp(1) / (1 + exp(1)) }
	     { d = \$1 - want; if (d < 0) d = -d; if (d > 1e-15) exit 1 }" out
'

test_expect_success 'top-k 3 keeps the three most probable, renormalized' '
	test-tool sample probs -k 3 -- 1 2 3 0.5 2.5 >out &&
	awk "NR==1||NR==4 { if (\$1 != 0) exit 1 }
	     NR==2 { s = exp(2) + exp(3) + exp(2.5); d = \$1 - exp(2) / s; if (d*d > 1e-30) exit 1 }" out
'

test_expect_success 'top-p: the smallest set reaching p (CS336), renormalized' '
	# probabilities 0.5, 0.3, 0.2 (to float precision: the logits are floats):
	# p = 0.79 keeps 0.5 and 0.3, p = 0.49 keeps 0.5 alone
	test-tool sample probs -p 0.79 -- $(awk "BEGIN { print log(0.5), log(0.3), log(0.2) }") >out &&
	awk "NR==1 { d = \$1 - 0.625 } NR==2 { d = \$1 - 0.375 } NR==3 { d = \$1 }
	     { if (d*d > 1e-12) exit 1 }" out &&
	test-tool sample probs -p 0.49 -- $(awk "BEGIN { print log(0.5), log(0.3), log(0.2) }") >out &&
	printf "1\n0\n0\n" >expect && test_cmp expect out
'

test_expect_success 'bad options are errors' '
	test_must_fail test-tool sample probs -p 0 -- 1 2 2>err && grep -q "top-p" err &&
	test_must_fail test-tool sample probs -t -1 -- 1 2 2>err && grep -q "temperature" err
'

test_expect_success PYTHON 'filtered probabilities equal transformers TopK/TopP warpers' '
	for args in "-t 1" "-t 0.7 -k 4" "-t 1.3 -p 0.85" "-t 0.9 -k 6 -p 0.7" "-t 2 -k 1"; do
		test-tool sample probs $args -- $LOGITS >ours || return 1
		"$PYTHON" - $args >ref <<-PY || return 1
		import sys, torch
		from transformers.generation.logits_process import (TemperatureLogitsWarper,
		    TopKLogitsWarper, TopPLogitsWarper)
		a = sys.argv[1:]; t, k, p = 1.0, 0, 1.0
		for i in range(0, len(a), 2):
		    if a[i] == "-t": t = float(a[i+1])
		    if a[i] == "-k": k = int(a[i+1])
		    if a[i] == "-p": p = float(a[i+1])
		x = torch.tensor([[float(v) for v in "$LOGITS".split()]]).double()  # our logits are floats
		ids = torch.zeros((1, 1), dtype=torch.long)
		x = TemperatureLogitsWarper(t)(ids, x)
		if k: x = TopKLogitsWarper(k)(ids, x)
		if p < 1: x = TopPLogitsWarper(p)(ids, x)
		for v in torch.softmax(x, -1)[0].tolist(): print(repr(v))
		PY
		paste ours ref | awk "{ d = \$1 - \$2; if (d*d > 1e-24) { print; exit 1 } }" || return 1
	done
'

# The draws: 20000 seeds (SEED..SEED+19999, one draw each, so the test is
# deterministic and never flakes). Under the null hypothesis chi2 follows a
# chi-square law with df = kept tokens - 1; we require chi2 below its 0.999
# quantile (df 1..9: 10.83 13.82 16.27 18.47 20.52 22.46 24.32 26.12 27.88).
chi2_ok() {
	awk "BEGIN { q[1]=10.83; q[2]=13.82; q[3]=16.27; q[4]=18.47; q[5]=20.52; q[6]=22.46;
	             q[7]=24.32; q[8]=26.12; q[9]=27.88 }
	     /^chi2/ { if (!(\$4 in q) || \$2 >= q[\$4]) { print; exit 1 }; ok = 1 }
	     END { exit !ok }" "$@"
}

for args in "-t 1" "-t 0.7 -k 4" "-t 1.3 -p 0.85" "-t 0.9 -k 6 -p 0.7" "-t 1.5 -k 3"; do
	test_expect_success "20000 draws match the filtered softmax ($args): chi2 test" "
		test-tool sample draw $args -n 20000 -s 1000 -- $LOGITS >out &&
		chi2_ok out
	"
done

test_expect_success 'the chi2 check catches a wrong distribution' '
	# draws with top-k 4, judged against the unfiltered softmax: must fail
	test-tool sample draw -t 1 -k 4 -n 20000 -s 7 -- $LOGITS >filtered &&
	test-tool sample probs -t 1 -- $LOGITS >p &&
	awk "NR==FNR { p[FNR-1] = \$1; next } /^chi2/ { print \"chi2\", c, \"df\", n - 1; next }
	     { e = 20000 * p[\$1]; c += (\$2 - e)^2 / e; n++ }" p filtered >wrong &&
	! chi2_ok wrong
'

test_expect_success 'the same seed gives the same stream' '
	test-tool sample rng 42 5 >a && test-tool sample rng 42 5 >b && test_cmp a b &&
	test-tool sample rng 43 5 >c && ! cmp -s a c
'

test_done
