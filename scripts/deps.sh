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
[ "${VIBEE_NO_APT:-0}" = 1 ] && exit 0
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
