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

# expect_code CODE NAME CMD...: like expect_fail, and the exit code is CODE.
expect_code() {
	want=$1; shift
	before=$fails
	expect_fail "$@"
	if [ "$fails" -eq "$before" ] && [ "$rc" -ne "$want" ]; then
		echo "FAIL $1: exit code $rc (want $want)"; fails=$((fails + 1))
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
mkfifo "$TMP/fifo.onnx" && expect_fail "FIFO as model" "$VIBEEC" "$TMP/fifo.onnx" -o "$TMP/x.so"

# The valid model compiles and runs; bad data is refused.
if timeout 120 "$VIBEEC" "$HERE/add.onnx" -o "$TMP/add.so" 2>"$TMP/err"; then
	if timeout 20 "$VRUN" "$TMP/add.so" --data "$HERE/good" >"$TMP/out" 2>"$TMP/err"; then
		echo "ok   add.onnx good data"
	else
		echo "FAIL add.onnx good data: exit $?: $(head -3 "$TMP/err")"
		fails=$((fails + 1))
	fi
	expect_code 2 "wrong_dtype" "$VRUN" "$TMP/add.so" --data "$HERE/wrong_dtype"
	expect_code 2 "wrong_shape" "$VRUN" "$TMP/add.so" --data "$HERE/wrong_shape"
	mkdir "$TMP/fifodata" && mkfifo "$TMP/fifodata/input_0.pb" &&
		expect_code 2 "FIFO as input data" "$VRUN" "$TMP/add.so" --data "$TMP/fifodata"
	expect_fail "missing data dir" "$VRUN" "$TMP/add.so" --data "$HERE/nonexistent"
	expect_fail "model is not a .so" "$VRUN" "$HERE/random.onnx" --data "$HERE/good"
else
	echo "FAIL add.onnx does not compile: $(head -3 "$TMP/err")"
	fails=$((fails + 1))
fi

# External data (ext/model.onnx reads b from "w.bin" next to it): resolved
# with realpath inside the model's folder, regular files only. Each case is
# a fresh folder holding a copy of the model and some kind of w.bin.
OUTSIDE="$TMP/outside"
mkdir -p "$OUTSIDE" && cp "$HERE/ext/w.bin" "$OUTSIDE/w.bin"
ext_case() {   # ext_case NAME: a folder $TMP/ext-NAME with the model in it
	d="$TMP/ext-$1"
	mkdir -p "$d" && cp "$HERE/ext/model.onnx" "$d/model.onnx"
}
ext_refused() {   # ext_refused NAME: vibeec refuses, one line, no output
	expect_fail "external data: $1" "$VIBEEC" "$TMP/ext-$1/model.onnx" -o "$TMP/ext-$1.so"
	if [ -e "$TMP/ext-$1.so" ]; then
		echo "FAIL external data: $1: an output file was written anyway"
		fails=$((fails + 1))
	fi
}
ext_works() {   # ext_works NAME: compiles, and runs right on good/
	if timeout 120 "$VIBEEC" "$TMP/ext-$1/model.onnx" -o "$TMP/ext-$1.so" 2>"$TMP/err" &&
	   timeout 20 "$VRUN" "$TMP/ext-$1.so" --data "$HERE/good" >"$TMP/out" 2>>"$TMP/err"; then
		echo "ok   external data: $1: compiles and runs right"
	else
		echo "FAIL external data: $1: $(head -3 "$TMP/err")"; fails=$((fails + 1))
	fi
}
ext_case copy && cp "$HERE/ext/w.bin" "$d/w.bin" && ext_works copy
ext_case link_inside && mkdir "$d/sub" && cp "$HERE/ext/w.bin" "$d/sub/real.bin" &&
	ln -s sub/real.bin "$d/w.bin" && ext_works link_inside
# the model reached through a symlinked folder: still inside its folder
ln -s "$TMP/ext-copy" "$TMP/ext-via_link" && ext_works via_link
ext_case link_outside_rel && ln -s ../outside/w.bin "$d/w.bin" && ext_refused link_outside_rel
ext_case link_outside_abs && ln -s "$OUTSIDE/w.bin" "$d/w.bin" && ext_refused link_outside_abs
ext_case dangling && ln -s "$TMP/nothing-here" "$d/w.bin" && ext_refused dangling
ext_case missing && ext_refused missing
ext_case directory && mkdir "$d/w.bin" && ext_refused directory
ext_case fifo && mkfifo "$d/w.bin" && ext_refused fifo
ext_case device && ln -s /dev/zero "$d/w.bin" && ext_refused device
ext_case short && head -c 8 "$HERE/ext/w.bin" >"$d/w.bin" && ext_refused short

[ "$fails" -eq 0 ] && echo "hostile: all passed" && exit 0
echo "hostile: $fails failed"
exit 1
