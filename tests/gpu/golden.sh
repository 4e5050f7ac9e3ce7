#!/bin/sh
# Golden device code: every tests/golden/*.vir rendered as OpenCL C, CUDA C
# and HIP C++ must equal the checked-in NAME.cl / NAME.cu / NAME.hip, so a
# change to the renderers shows up in review. --update rewrites them.
# usage: golden.sh VIBEEC GOLDEN_DIR WORK [--update]
vibeec=$1; gold=$2; work=$3; update=$4
mkdir -p "$work" || exit 1
cd "$gold" || exit 1
fail=0
for f in *.vir; do
  n=${f%.vir}
  for form in opencl:cl cuda:cu hip:hip; do
    e=${form%%:*}; ext=${form##*:}
    "$vibeec" "$f" --emit=$e -o "$work/$n.$ext" || { echo "vibeec $f --emit=$e failed"; fail=1; continue; }
    if [ "$update" = --update ]; then
      cp "$work/$n.$ext" "$n.$ext"
    elif ! diff -u "$n.$ext" "$work/$n.$ext"; then
      echo "golden mismatch: $n.$ext (rerun with --update if intended)"; fail=1
    fi
  done
done
exit $fail
