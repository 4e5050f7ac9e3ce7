#!/bin/sh
# --precision=tf32|fp16|bf16 device code, without a GPU (docs/GPU.md):
#   nvidia: the MatMul tiles render as wgmma on h100 (m64n16k8 tf32,
#     m64n16k16 f16/bf16, PTX for compute_90a) and as mma.sync (m16n8k8
#     tf32, m16n8k16 f16/bf16) on b100 and a100; --emit=ptx assembles with
#     ptxas for sm_90a (h100), sm_100 and sm_100a (b100) and sm_80 (a100);
#     the h100 .so builds.
#   amd: fp16/bf16 render as MFMA builtins and hipcc --offload-arch=gfx940
#     compiles them to v_mfma_f32_16x16x16 instructions (device assembly
#     checked); tf32 has no MFMA here and keeps the rounded fp32 loop.
# Exits 77 without ptxas (nvidia) or hipcc (amd).
# usage: precision_code.sh nvidia|amd VIBEEC PTXAS|HIPCC MODEL WORK
side=$1; vibeec=$2; tool=$3; model=$4; work=$5
mkdir -p "$work" || exit 1
if [ -z "$tool" ] || [ ! -x "$tool" ]; then echo "skipped: no $side compiler"; exit 77; fi
set -e
for p in tf32 fp16 bf16; do
  if [ $side = nvidia ]; then
    case $p in
      tf32) mma="mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"
            wg="wgmma.mma_async.sync.aligned.m64n16k8.f32.tf32.tf32" ;;
      fp16) mma="mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
            wg="wgmma.mma_async.sync.aligned.m64n16k16.f32.f16.f16" ;;
      bf16) mma="mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"
            wg="wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16" ;;
    esac
    if ! "$vibeec" "$model" --target=h100 --precision=$p -o "$work/h100.$p.so" 2>"$work/err"; then
      cat "$work/err" >&2
      grep -q "built without the CUDA toolkit" "$work/err" && { echo "skipped: no NVRTC"; exit 77; }
      exit 1
    fi
    for ta in h100:sm_90a b100:sm_100 b100:sm_100a a100:sm_80; do
      t=${ta%%:*}; a=${ta##*:}
      "$vibeec" "$model" --target=$t --precision=$p --emit=ptx -o "$work/$t.$p.ptx"
      if [ $t = h100 ]; then
        grep -q "$wg" "$work/$t.$p.ptx" || { echo "h100 $p: no $wg in the PTX"; exit 1; }
        for w in wgmma.fence.sync.aligned wgmma.commit_group.sync.aligned \
                 "wgmma.wait_group.sync.aligned 0" fence.proxy.async.shared::cta; do
          grep -q "$w" "$work/$t.$p.ptx" || { echo "h100 $p: no $w in the PTX"; exit 1; }
        done
        ! grep -q "mma.sync" "$work/$t.$p.ptx" || { echo "h100 $p: mma.sync left"; exit 1; }
        grep -q "^.target sm_90a" "$work/$t.$p.ptx" || { echo "h100 $p: PTX not sm_90a"; exit 1; }
      else
        grep -q "$mma" "$work/$t.$p.ptx" || { echo "$t $p: no $mma in the PTX"; exit 1; }
        ! grep -q wgmma "$work/$t.$p.ptx" || { echo "$t $p: unexpected wgmma"; exit 1; }
      fi
      "$tool" -arch=$a "$work/$t.$p.ptx" -o "$work/$t.$p.$a.cubin"
    done
    echo "$p: h100 $wg, b100/a100 $mma; PTX assembles for sm_90a, sm_100, sm_100a, sm_80"
  else
    "$vibeec" "$model" --target=mi300x --precision=$p --emit=hip -o "$work/$p.hip"
    "$tool" --genco --offload-arch=gfx940 "$work/$p.hip" -o "$work/$p.co"
    "$tool" --offload-arch=gfx940 --cuda-device-only -S "$work/$p.hip" -o "$work/$p.s" 2>/dev/null
    if [ $p = tf32 ]; then
      ! grep -q v_mfma "$work/$p.s" || { echo "tf32: unexpected MFMA"; exit 1; }
      grep -q vrnd_tf32 "$work/$p.hip"
      echo "tf32: no MFMA (rounded fp32 loop); builds for gfx940"
    else
      case $p in fp16) ins=v_mfma_f32_16x16x16_f16 ;; *) ins=v_mfma_f32_16x16x16_bf16 ;; esac
      grep -q "$ins" "$work/$p.s" || { echo "$p: no $ins in the gfx940 assembly"; exit 1; }
      echo "$p: $ins in the gfx940 code"
    fi
  fi
done
