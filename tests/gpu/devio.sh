#!/bin/sh
# Device-resident I/O on --target=opencl (tests/gpu/devio.c): SAMPLE built
# for opencl and for the cpu, run through vibee_context_run_device with
# cl_mem inputs and outputs. Exits 77 without an OpenCL device.
# usage: devio.sh VIBEEC DEVIO SAMPLE_DIR WORK
vibeec=$1; devio=$2; dir=$3; work=$4
mkdir -p "$work" || exit 1
"$vibeec" "$dir/model.onnx" --target=opencl -o "$work/ocl.so" || exit 1
"$vibeec" "$dir/model.onnx" -o "$work/cpu.so" || exit 1
exec "$devio" "$work/ocl.so" "$dir/test_data_set_0" "$work/cpu.so"
