#!/bin/sh
# Hostile-input test: vibeec and vibee-run must refuse malformed models and
# data with exit code 1 or 2 and exactly one line on stderr, never crash or
# hang. Usage: run.sh path/to/vibeec path/to/vibee-run
# (inputs are made by make_hostile.py in this folder)
set -u
VIBEEC=${1:?usage: run.sh VIBEEC VIBEE_RUN}
VRUN=${2:?usage: run.sh VIBEEC VIBEE_RUN}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0

# expect_fail NAME CMD...: exit 1 or 2, one stderr line, within 20 s.
expect_fail() {
	name=$1; shift
	timeout 20 "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	rc=$?
	lines=$(wc -l <"$TMP/err")
	# a last line without a newline still counts as a line
	[ -s "$TMP/err" ] && [ "$(tail -c1 "$TMP/err" | od -An -c | tr -d ' ')" != '\n' ] &&
		lines=$((lines + 1))
	if [ "$rc" -eq 124 ]; then
		echo "FAIL $name: timed out"; fails=$((fails + 1))
	elif [ "$rc" -ne 1 ] && [ "$rc" -ne 2 ]; then
		echo "FAIL $name: exit code $rc (want 1 or 2)"; fails=$((fails + 1))
	elif [ "$lines" -ne 1 ]; then
		echo "FAIL $name: $lines lines on stderr (want 1):"
		sed 's/^/  | /' "$TMP/err" | head -5
		fails=$((fails + 1))
	else
		echo "ok   $name: $(cat "$TMP/err")"
	fi
}

for m in truncated random undefined_input ext_escape huge_dim cycle \
         short_data deep huge_numel cos_huge expand_huge; do
	expect_fail "$m.onnx" "$VIBEEC" "$HERE/$m.onnx" -o "$TMP/$m.so"
	if [ -e "$TMP/$m.so" ]; then
		echo "FAIL $m.onnx: an output file was written anyway"
		fails=$((fails + 1))
	fi
done
expect_fail "missing file" "$VIBEEC" "$HERE/does_not_exist.onnx" -o "$TMP/x.so"
expect_fail "directory as model" "$VIBEEC" "$HERE" -o "$TMP/x.so"

# The valid model compiles and runs; bad data is refused.
if timeout 120 "$VIBEEC" "$HERE/add.onnx" -o "$TMP/add.so" 2>"$TMP/err"; then
	if timeout 20 "$VRUN" "$TMP/add.so" --data "$HERE/good" >"$TMP/out" 2>"$TMP/err"; then
		echo "ok   add.onnx good data"
	else
		echo "FAIL add.onnx good data: exit $?: $(head -3 "$TMP/err")"
		fails=$((fails + 1))
	fi
	expect_fail "wrong_dtype" "$VRUN" "$TMP/add.so" --data "$HERE/wrong_dtype"
	expect_fail "wrong_shape" "$VRUN" "$TMP/add.so" --data "$HERE/wrong_shape"
	expect_fail "missing data dir" "$VRUN" "$TMP/add.so" --data "$HERE/nonexistent"
	expect_fail "model is not a .so" "$VRUN" "$HERE/random.onnx" --data "$HERE/good"
else
	echo "FAIL add.onnx does not compile: $(head -3 "$TMP/err")"
	fails=$((fails + 1))
fi

[ "$fails" -eq 0 ] && echo "hostile: all passed" && exit 0
echo "hostile: $fails failed"
exit 1
