# lib-train.sh — reading lm-train's log.jsonl in the tests.
#
#   losses LOG           "STEP LOSS" a line, by step; a resumed step's record
#                        replaces the earlier one
#   compare_losses A B   of two such lists, joined by step: "steps N mean M
#                        max X last L", the mean, largest and last |a - b|
#   loss_values LOG      "STEP KIND VALUE" of every loss and val_loss record,
#                        by step, a resumed step's records replacing earlier ones

losses() {
	grep -o '"step":[0-9]*,"tokens":[0-9.e+]*,"loss":[^,}]*' "$1" |
	awk -F'[:,]' '{v[$2] = $6} END {for (s in v) print s, v[s]}' | sort -n
}

compare_losses() {
	awk 'NR == FNR {a[$1] = $2; next}
		$1 in a {d = a[$1] - $2; if (d < 0) d = -d; s += d; if (d > m) m = d; n++; last = d}
		END {printf "steps %d mean %.4f max %.4f last %.4f\n", n, n ? s / n : 0, m, last}' "$1" "$2"
}

loss_values() {
	grep -o '"step":[0-9]*,"tokens":[0-9.e+]*,"\(val_\)*loss":[^,}]*' "$1" |
	awk -F'[:,]' '{v[$2 " " $5] = $6} END {for (k in v) print k, v[k]}' | sort -k1,1n -k2
}
