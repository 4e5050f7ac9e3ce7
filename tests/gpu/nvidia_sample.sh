#!/bin/sh
# One sample on the NVIDIA targets, without a GPU: --target=h100 and
# --target=b100 build a model.so (NVRTC -> PTX, ptxas -> cubin), and the
# --emit=ptx output of each assembles with ptxas (sm_90a for h100, sm_100
# and sm_100a for b100). Exits 77 when vibeec has no NVRTC or there is no
# ptxas. usage: nvidia_sample.sh VIBEEC PTXAS DIR WORK
vibeec=$1; ptxas=$2; dir=$3; work=$4
mkdir -p "$work" || exit 1
if [ -z "$ptxas" ] || [ ! -x "$ptxas" ]; then echo "skipped: no ptxas"; exit 77; fi
set -e
for t in h100 b100; do
  if ! "$vibeec" "$dir/model.onnx" --target=$t -o "$work/$t.so" 2>"$work/err"; then
    cat "$work/err" >&2
    grep -q "built without the CUDA toolkit" "$work/err" && { echo "skipped: no NVRTC"; exit 77; }
    exit 1
  fi
  "$vibeec" "$dir/model.onnx" --target=$t --emit=ptx -o "$work/$t.ptx"
  grep -q "^\.entry\|\.entry vk" "$work/$t.ptx" || { echo "no kernels in $t.ptx"; exit 1; }
done
"$ptxas" -arch=sm_90a "$work/h100.ptx" -o "$work/h100.cubin"
"$ptxas" -arch=sm_100 "$work/b100.ptx" -o "$work/b100.cubin"
"$ptxas" -arch=sm_100a "$work/b100.ptx" -o "$work/b100a.cubin"
echo "h100/b100: .so built, PTX assembles for sm_90a, sm_100, sm_100a"
