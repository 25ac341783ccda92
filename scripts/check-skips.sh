#!/bin/sh
# check-skips.sh LOG — the end of make check: every test that skipped, with
# its reason, from the lines t/lib-test.sh appended to LOG ("SCRIPT N
# (TOOLS): TITLE: REASON"). Only a test that needs a GPU may skip; one that lacked
# anything else has failed already, and is listed apart. Exit 1 then.
log=${1:?usage: check-skips.sh LOG}
[ -s "$log" ] || { echo "make check: no test skipped"; exit 0; }
missing=$(grep -c ': FAILED, missing ' "$log")
skipped=$(($(wc -l <"$log") - missing))
if [ "$skipped" -gt 0 ]; then
	echo "make check: $skipped skipped, each needing a GPU (script, test (tools): title: reason):"
	grep -v ': FAILED, missing ' "$log" | sort -V | sed 's/^/  /'
fi
if [ "$missing" -gt 0 ]; then
	echo "make check: $missing FAILED for a missing prerequisite that is not a GPU's:"
	grep ': FAILED, missing ' "$log" | sort -V | sed 's/^/  /'
	exit 1
fi
exit 0
