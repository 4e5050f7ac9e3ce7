#!/bin/sh
# Device attention code without a GPU (docs/GPU.md): the attention op of
# MODEL (tests/golden/attention.vir) as device code.
#   nvidia: fp32 and --precision=tf32|fp16|bf16 --emit=ptx assemble with
#     ptxas for sm_90a (h100), sm_100 / sm_100a (b100) and sm_80 (a100); at
#     tf32/fp16/bf16 the attention kernel is the wgmma body on h100
#     (wgmma.mma_async m64nNk8 .tf32, m64nNk16 .f16 / .bf16) and the
#     mma.sync body on b100 and a100 (m16n8k8 .tf32, m16n8k16 .f16 /
#     .bf16), and the h100 .so builds.
#   amd: fp32 and each precision build with hipcc --genco for gfx940 and
#     gfx90a (mi300x, mi250); at fp16/bf16 the attention is the MFMA body
#     (v_mfma_f32_16x16x16 f16 / bf16 in the assembly of both), at tf32 the
#     rounded fp32 loop (no tf32 MFMA).
# Exits 77 without ptxas (nvidia) or hipcc (amd).
# usage: attn_code.sh nvidia|amd VIBEEC PTXAS|HIPCC MODEL WORK
side=$1; vibeec=$2; tool=$3; model=$4; work=$5
mkdir -p "$work" || exit 1
if [ -z "$tool" ] || [ ! -x "$tool" ]; then echo "skipped: no $side compiler"; exit 77; fi
set -e
for p in fp32 tf32 fp16 bf16; do
  if [ $side = nvidia ]; then
    case $p in
      fp32) mma=""; wg="" ;;
      tf32) mma="mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"
            wg="wgmma.mma_async.sync.aligned.m64n[0-9]*k8.f32.tf32.tf32" ;;
      fp16) mma="mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
            wg="wgmma.mma_async.sync.aligned.m64n[0-9]*k16.f32.f16.f16" ;;
      bf16) mma="mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"
            wg="wgmma.mma_async.sync.aligned.m64n[0-9]*k16.f32.bf16.bf16" ;;
    esac
    if ! "$vibeec" "$model" --target=h100 --precision=$p -o "$work/h100.$p.so" 2>"$work/err"; then
      cat "$work/err" >&2
      grep -q "built without the CUDA toolkit" "$work/err" && { echo "skipped: no NVRTC"; exit 77; }
      exit 1
    fi
    "$vibeec" "$model" --target=h100 --precision=$p --emit=cuda -o "$work/h100.$p.cu"
    if [ -n "$mma" ]; then
      grep -q "wgmma.mma_async" "$work/h100.$p.cu" || { echo "$p: no wgmma in the h100 CUDA C"; exit 1; }
      ! grep -q "mma.sync" "$work/h100.$p.cu" || { echo "$p: mma.sync in the h100 CUDA C"; exit 1; }
    else
      ! grep -q "mma.sync\|wgmma" "$work/h100.$p.cu" || { echo "fp32: unexpected mma"; exit 1; }
    fi
    for ta in h100:sm_90a b100:sm_100 b100:sm_100a a100:sm_80; do
      t=${ta%%:*}; a=${ta##*:}
      "$vibeec" "$model" --target=$t --precision=$p --emit=ptx -o "$work/$t.$p.ptx"
      if [ -n "$mma" ] && [ $t = h100 ]; then
        grep -q "$wg" "$work/$t.$p.ptx" || { echo "$t $p: no $wg in the PTX"; exit 1; }
      elif [ -n "$mma" ]; then
        grep -q "$mma" "$work/$t.$p.ptx" || { echo "$t $p: no $mma in the PTX"; exit 1; }
        ! grep -q "wgmma" "$work/$t.$p.ptx" || { echo "$t $p: wgmma off sm_90a"; exit 1; }
      fi
      "$tool" -arch=$a "$work/$t.$p.ptx" -o "$work/$t.$p.$a.cubin"
    done
    echo "$p: ${mma:-fp32 loop}${wg:+ (h100: $wg)}; PTX assembles for sm_90a, sm_100, sm_100a, sm_80"
  else
    case $p in
      fp16) mf="__builtin_amdgcn_mfma_f32_16x16x16f16"; ins="v_mfma_f32_16x16x16_\{0,1\}f16" ;;
      bf16) mf="__builtin_amdgcn_mfma_f32_16x16x16bf16_1k"; ins="v_mfma_f32_16x16x16_\{0,1\}bf16" ;;
      *) mf=; ins= ;;
    esac
    for ta in mi300x:gfx940 mi250:gfx90a; do
      t=${ta%%:*}; a=${ta##*:}
      "$vibeec" "$model" --target=$t --precision=$p --emit=hip -o "$work/$t.$p.hip"
      "$tool" --genco --offload-arch=$a "$work/$t.$p.hip" -o "$work/$t.$p.co"
      if [ -n "$mf" ]; then
        grep -q "$mf" "$work/$t.$p.hip" || { echo "$t $p: no $mf in the HIP"; exit 1; }
        "$tool" --offload-arch=$a --cuda-device-only -S "$work/$t.$p.hip" -o "$work/$t.$p.s" 2>/dev/null
        grep -q "$ins" "$work/$t.$p.s" || { echo "$t $p: no $ins in the $a assembly"; exit 1; }
      else
        ! grep -q "mfma" "$work/$t.$p.hip" || { echo "$t $p: unexpected MFMA"; exit 1; }
      fi
    done
    case $p in tf32) rn=vrnd_tf32 ;; fp16) rn=vrnd_f16 ;; bf16) rn=vrnd_bf16 ;; *) rn= ;; esac
    # tf32: the helper's definition plus its uses in the attention kernel
    [ "$p" != tf32 ] || [ "$(grep -c "$rn(" "$work/mi300x.$p.hip")" -ge 2 ] ||
      { echo "$p: operands not rounded"; exit 1; }
    echo "$p: ${mf:-no MFMA}; the HIP attention builds for gfx940 and gfx90a"
  fi
done
