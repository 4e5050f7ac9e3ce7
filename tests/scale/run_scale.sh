#!/bin/sh
# Realistic-size model check (issue 4, bench/scale/): compile DIR/model.onnx with
# vibeec -O2 and compare vibee-run's outputs on every DIR/test_data_set_N with the
# PyTorch references (tests/samples/run_sample.sh). Exits 77 (skip) when the model has not been exported
# (`make bench-scale` or bench/scale/export_scale.py writes build/scale/NAME/).
# usage: run_scale.sh VIBEEC VIBEERUN DIR WORK
vibeec=$1; run=$2; dir=$3; work=$4
if [ ! -f "$dir/model.onnx" ]; then
  echo "skip: $dir/model.onnx not exported (run make bench-scale or bench/scale/export_scale.py)"
  exit 77
fi
exec sh "$(dirname "$0")/../samples/run_sample.sh" "$@"   # vibeec -O2 (its default), every data set
