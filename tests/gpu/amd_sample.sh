#!/bin/sh
# One sample on the AMD targets, without a GPU: --target=mi300x builds a
# model.so (hipcc code objects for gfx940 and gfx90a + HIP source), and the
# --emit=hip output builds with hipcc --genco --offload-arch=gfx940.
# Exits 77 when there is no hipcc. usage: amd_sample.sh VIBEEC HIPCC DIR WORK
vibeec=$1; hipcc=$2; dir=$3; work=$4
mkdir -p "$work" || exit 1
if [ -z "$hipcc" ] || [ ! -x "$hipcc" ]; then echo "skipped: no hipcc"; exit 77; fi
set -e
VIBEE_HIPCC=$hipcc "$vibeec" "$dir/model.onnx" --target=mi300x -o "$work/mi300x.so"
"$vibeec" "$dir/model.onnx" --target=mi300x --emit=hip -o "$work/model.hip"
"$hipcc" --genco --offload-arch=gfx940 "$work/model.hip" -o "$work/model.co"
test -s "$work/model.co"
echo "mi300x: .so built; --emit=hip builds for gfx940"
