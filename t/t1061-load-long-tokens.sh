#!/bin/bash
test_description='loading merges and rank tables is linear in the tokens'\'' length

A vocabulary whose last token is 1 MiB of one letter (each token twice the
one before) loads in seconds, from a merges file and from a .tiktoken rank
table alike (both were quadratic: a 256 KiB token took 22 s, 1 MiB never
finished), and encodes a text to the ids that BPE gives by hand. The
timeout only turns a hang into a failure; there is no timing assertion.'
. ./lib-test.sh

GUARD="timeout 120"

test_expect_success 'set up the doubling vocabulary as merges and as a rank table' '
	python3 - <<-\EOF
	import base64
	# GPT-2 byte order: the printable bytes, then the rest
	order = [b for b in range(256) if 0x21 <= b <= 0x7e or 0xa1 <= b <= 0xac or b >= 0xae]
	order += [b for b in range(256) if b not in order]
	merges, ranks = ["#version: 0.2"], [base64.b64encode(bytes([b])).decode() + " %d" % i for i, b in enumerate(order)]
	t = "a"
	while len(t) < 1 << 20:
	    merges.append(t + " " + t)
	    t += t
	    ranks.append(base64.b64encode(t.encode()).decode() + " %d" % len(ranks))
	open("long.merges", "w").write("\n".join(merges) + "\n")
	open("long.tiktoken", "w").write("\n".join(ranks) + "\n")
	open("text.txt", "w").write("a" * ((1 << 20) + 3) + " aaaaa")
	EOF
'

# a^(2^20 + 3): a^(2^20) (merge 19, id 275), aa (256), a (64); " aaaaa":
# " " (188 + 32 = 220), then aaaa (257) and a.
printf "275\n256\n64\n220\n257\n64\n" >expect

for table in long.merges long.tiktoken; do
	test_expect_success "a 1 MiB token in $table: loads, encodes as BPE does by hand" "
		$GUARD bpe-encode -m $table text.txt >ids &&
		od -An -v -tu2 -w2 ids | tr -d ' ' >got &&
		test_cmp expect got &&
		$GUARD bpe-encode -d -m $table ids | cmp - text.txt
	"
done

test_done
