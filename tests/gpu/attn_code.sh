#!/bin/sh
# Device attention code without a GPU (docs/GPU.md): the attention op of
# MODEL (tests/golden/attention.vir) as device code.
#   nvidia: fp32 and --precision=tf32|fp16|bf16 --emit=ptx assemble with
#     ptxas for sm_90a (h100), sm_100 / sm_100a (b100) and sm_80 (a100); at
#     tf32/fp16/bf16 the attention kernel is the mma.sync body
#     (m16n8k8 .tf32, m16n8k16 .f16 / .bf16) and the h100 .so builds.
#   amd: fp32 and each precision build with hipcc --genco for gfx940 (the
#     attention keeps the fp32 loop on rounded operands there: no MFMA).
# Exits 77 without ptxas (nvidia) or hipcc (amd).
# usage: attn_code.sh nvidia|amd VIBEEC PTXAS|HIPCC MODEL WORK
side=$1; vibeec=$2; tool=$3; model=$4; work=$5
mkdir -p "$work" || exit 1
if [ -z "$tool" ] || [ ! -x "$tool" ]; then echo "skipped: no $side compiler"; exit 77; fi
set -e
for p in fp32 tf32 fp16 bf16; do
  if [ $side = nvidia ]; then
    case $p in
      fp32) mma="" ;;
      tf32) mma="mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32" ;;
      fp16) mma="mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32" ;;
      bf16) mma="mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32" ;;
    esac
    if ! "$vibeec" "$model" --target=h100 --precision=$p -o "$work/h100.$p.so" 2>"$work/err"; then
      cat "$work/err" >&2
      grep -q "built without the CUDA toolkit" "$work/err" && { echo "skipped: no NVRTC"; exit 77; }
      exit 1
    fi
    "$vibeec" "$model" --target=h100 --precision=$p --emit=cuda -o "$work/h100.$p.cu"
    if [ -n "$mma" ]; then
      grep -q "mma.sync.aligned" "$work/h100.$p.cu" || { echo "$p: no mma.sync in the CUDA C"; exit 1; }
    else
      ! grep -q "mma.sync" "$work/h100.$p.cu" || { echo "fp32: unexpected mma.sync"; exit 1; }
    fi
    for ta in h100:sm_90a b100:sm_100 b100:sm_100a a100:sm_80; do
      t=${ta%%:*}; a=${ta##*:}
      "$vibeec" "$model" --target=$t --precision=$p --emit=ptx -o "$work/$t.$p.ptx"
      if [ -n "$mma" ]; then
        grep -q "$mma" "$work/$t.$p.ptx" || { echo "$t $p: no $mma in the PTX"; exit 1; }
      fi
      "$tool" -arch=$a "$work/$t.$p.ptx" -o "$work/$t.$p.$a.cubin"
    done
    echo "$p: ${mma:-fp32 loop}; PTX assembles for sm_90a, sm_100, sm_100a, sm_80"
  else
    "$vibeec" "$model" --target=mi300x --precision=$p --emit=hip -o "$work/$p.hip"
    "$tool" --genco --offload-arch=gfx940 "$work/$p.hip" -o "$work/$p.co"
    case $p in tf32) rn=vrnd_tf32 ;; fp16) rn=vrnd_f16 ;; bf16) rn=vrnd_bf16 ;; *) rn= ;; esac
    # the helper's definition plus its uses in the attention kernel
    [ -z "$rn" ] || [ "$(grep -c "$rn(" "$work/$p.hip")" -ge 2 ] ||
      { echo "$p: operands not rounded"; exit 1; }
    echo "$p: the HIP attention builds for gfx940"
  fi
done
