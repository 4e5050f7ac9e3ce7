#!/bin/sh
# One sample on --target=opencl: compile, run every test_data_set_N with
# vibee-run (PoCL here), compare against the reference outputs. Exits 77
# (skipped) when the machine has no OpenCL platform or device.
# usage: opencl_sample.sh VIBEEC VIBEERUN DIR WORK
vibeec=$1; run=$2; dir=$3; work=$4
mkdir -p "$work" || exit 1
"$vibeec" "$dir/model.onnx" --target=opencl -o "$work/model.so" || exit 1
found=0
for ds in "$dir"/test_data_set_*; do
  [ -d "$ds" ] || continue
  found=1
  echo "== $ds"
  "$run" "$work/model.so" --data "$ds" --threads 2 2>"$work/err"
  rc=$?
  cat "$work/err" >&2
  if [ $rc = 2 ] && grep -q "no OpenCL device found" "$work/err"; then
    echo "skipped: no OpenCL device"; exit 77
  fi
  [ $rc = 0 ] || exit 1
done
[ $found = 1 ] || { echo "no test data in $dir"; exit 1; }
