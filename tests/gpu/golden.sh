#!/bin/sh
# Golden device code: every tests/golden/*.vir rendered as OpenCL C, CUDA C
# and HIP C++ must equal the checked-in NAME.cl / NAME.cu / NAME.hip (and
# matmul.vir with --precision=tf32|fp16|bf16 the matmul.PREC.*, attention.vir
# with tf32|fp16 the attention.PREC.*, gemm.vir with bf16 the gemm.bf16.*:
# CUDA C for h100 as NAME.PREC.cu (wgmma for MatMul and Gemm) and for a100
# (mma.sync) as NAME.PREC.a100.cu), so a change to
# the renderers shows up in review. --update rewrites them.
# usage: golden.sh VIBEEC GOLDEN_DIR WORK [--update]
vibeec=$1; gold=$2; work=$3; update=$4
mkdir -p "$work" || exit 1
cd "$gold" || exit 1
fail=0
# NAME.vir at fp32, and matmul.vir also at each --precision (NAME.PREC.ext)
for f in *.vir matmul.vir:tf32 matmul.vir:fp16 matmul.vir:bf16 attention.vir:tf32 attention.vir:fp16 \
         gemm.vir:bf16; do
  v=${f%%:*}; n=${v%.vir}; prec=fp32
  case $f in *:*) prec=${f##*:}; n=$n.$prec ;; esac
  forms="opencl:cl cuda:cu hip:hip"
  [ $prec = fp32 ] || forms="$forms cuda:a100.cu"
  for form in $forms; do
    e=${form%%:*}; ext=${form##*:}; tgt=
    [ $ext = a100.cu ] && tgt=--target=a100
    "$vibeec" "$v" $tgt --emit=$e --precision=$prec -o "$work/$n.$ext" ||
      { echo "vibeec $v --emit=$e --precision=$prec failed"; fail=1; continue; }
    if [ "$update" = --update ]; then
      cp "$work/$n.$ext" "$n.$ext"
    elif ! diff -u "$n.$ext" "$work/$n.$ext"; then
      echo "golden mismatch: $n.$ext (rerun with --update if intended)"; fail=1
    fi
  done
done
exit $fail
