#!/bin/sh
# A GPU model.so loads on a machine without that GPU, and vibee-run says
# plainly that no device or driver was found and exits 2. Skipped (77) on a
# machine that has the driver (the `gpu` tests run the model there).
# usage: nodevice.sh VIBEEC VIBEERUN MODEL_DIR WORK TARGET (h100.. or mi300x..)
vibeec=$1; run=$2; dir=$3; work=$4; target=$5
mkdir -p "$work" || exit 1
case $target in
  mi*) if [ -e /dev/kfd ]; then echo "skipped: an AMD GPU driver is here"; exit 77; fi ;;
  *) if ldconfig -p 2>/dev/null | grep -q "libcuda.so.1"; then
       echo "skipped: an NVIDIA driver is here"; exit 77; fi ;;
esac
if ! "$vibeec" "$dir/model.onnx" --target=$target -o "$work/m.so" 2>"$work/cerr"; then
  cat "$work/cerr"
  grep -q "built without the CUDA toolkit" "$work/cerr" && exit 77
  exit 1
fi
"$run" "$work/m.so" --info | grep -q "target: $target" || { echo "--info lacks the target"; exit 1; }
"$run" "$work/m.so" --data "$dir/test_data_set_0" 2>"$work/err"
rc=$?
cat "$work/err"
[ $rc = 2 ] || { echo "expected exit 2, got $rc"; exit 1; }
grep -Eq "no (CUDA driver|CUDA device|HIP runtime|AMD GPU) found" "$work/err" ||
  { echo "message does not say that no device/driver was found"; exit 1; }
echo "ok: exit 2 with a clear message"
