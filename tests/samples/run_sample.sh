#!/bin/sh
# Compile one sample with vibeec and compare every test_data_set_N against
# its reference outputs with vibee-run. usage: run_sample.sh VIBEEC VIBEERUN DIR WORK
set -e
vibeec=$1; run=$2; dir=$3; work=$4
mkdir -p "$work"
"$vibeec" "$dir/model.onnx" -o "$work/model.so"
found=0
for ds in "$dir"/test_data_set_*; do
  [ -d "$ds" ] || continue
  found=1
  echo "== $ds"
  "$run" "$work/model.so" --data "$ds" --threads 2
done
[ $found = 1 ] || { echo "no test data in $dir"; exit 1; }
