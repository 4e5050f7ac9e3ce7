#!/bin/sh
# Runs one IR text test: for each line "# RUN: [not] ARGS [| FILECHECK-ARGS]"
# of FILE, pipes `VIBEE_OPT ARGS FILE` into `FILECHECK FILE FILECHECK-ARGS`.
# "not" expects vibee-opt to fail and checks its stderr instead.
# usage: run_filecheck.sh VIBEE_OPT FILECHECK FILE
set -u
[ $# -eq 3 ] || { echo "usage: $0 VIBEE_OPT FILECHECK FILE" >&2; exit 2; }
opt=$1 fc=$2 f=$3
tmp=${TMPDIR:-/tmp}/vibee-fc.$$
trap 'rm -f "$tmp".out "$tmp".err "$tmp".runs' EXIT
grep '^# RUN:' "$f" | sed 's/^# RUN://' > "$tmp".runs
[ -s "$tmp".runs ] || { echo "$f: no '# RUN:' line" >&2; exit 1; }
status=0
while IFS= read -r line; do
	args=${line%%|*}
	fcargs=
	case $line in *'|'*) fcargs=${line#*|} ;; esac
	expect_fail=0
	set -- $args
	if [ "${1:-}" = not ]; then
		expect_fail=1
		shift
	fi
	"$opt" "$@" "$f" > "$tmp".out 2> "$tmp".err
	rc=$?
	if [ $expect_fail = 1 ]; then
		if [ $rc = 0 ]; then
			echo "$f: RUN:$line: expected a failure, got exit 0" >&2
			status=1
			continue
		fi
		input="$tmp".err
	else
		if [ $rc != 0 ]; then
			echo "$f: RUN:$line: vibee-opt exited $rc:" >&2
			cat "$tmp".err >&2
			status=1
			continue
		fi
		input="$tmp".out
	fi
	# shellcheck disable=SC2086
	if ! "$fc" "$f" --input-file="$input" $fcargs; then
		echo "$f: RUN:$line: FileCheck failed; vibee-opt wrote:" >&2
		cat "$input" >&2
		status=1
	fi
done < "$tmp".runs
exit $status
