#!/bin/sh
# ctest label `gpu`: one sample on a real GPU target (h100, b100, a100,
# mi300x, ...): compile, run every test_data_set_N, compare against the
# references. Exits 77 (skipped) when vibee-run finds no device or driver.
# usage: gpu_sample.sh VIBEEC VIBEERUN DIR WORK TARGET
vibeec=$1; run=$2; dir=$3; work=$4; target=$5
mkdir -p "$work" || exit 1
# no driver: skip before spending minutes on NVRTC/ptxas/hipcc
case $target in
  opencl) ;;
  mi*) [ -e /dev/kfd ] || { echo "skipped: no AMD GPU driver (/dev/kfd)"; exit 77; } ;;
  *) ldconfig -p 2>/dev/null | grep -q "libcuda.so.1" ||
       { echo "skipped: no NVIDIA driver (libcuda.so.1)"; exit 77; } ;;
esac
if ! "$vibeec" "$dir/model.onnx" --target=$target -o "$work/model.so" 2>"$work/cerr"; then
  cat "$work/cerr"
  grep -q "built without the CUDA toolkit" "$work/cerr" && exit 77
  exit 1
fi
for ds in "$dir"/test_data_set_*; do
  [ -d "$ds" ] || continue
  "$run" "$work/model.so" --data "$ds" 2>"$work/err"
  rc=$?
  cat "$work/err"
  if [ $rc = 2 ] && grep -Eq "no (CUDA driver|CUDA device|HIP runtime|AMD GPU|OpenCL device) found" "$work/err"; then
    echo "skipped: no device for $target"; exit 77
  fi
  [ $rc = 0 ] || exit 1
done
