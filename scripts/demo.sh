#!/bin/sh
# make demo: compile a sample transformer with vibeec, run it with vibee-run,
# and show its outputs matching PyTorch's reference outputs.
set -e
B=${1:-build}
S=samples/gpt2
OUT=${TMPDIR:-/tmp}/vibee-demo
mkdir -p "$OUT"
echo "== vibeec $S/model.onnx -o $OUT/gpt2.so"
"$B/vibeec" "$S/model.onnx" -o "$OUT/gpt2.so"
echo "== vibee-run $OUT/gpt2.so --info"
"$B/vibee-run" "$OUT/gpt2.so" --info
echo "== vibee-run $OUT/gpt2.so --data $S/test_data_set_0 --out $OUT/outputs"
"$B/vibee-run" "$OUT/gpt2.so" --data "$S/test_data_set_0" --out "$OUT/outputs"
