#!/bin/sh
# The node tests of the installed onnx wheel (1.23: opsets up to 28, float8/
# int4 types) through vibeec + vibee-run, against expected_onnx123.txt.
# Generates the test data into DATA (once) with scripts/gen_onnx_node_tests.py.
# usage: run_onnx123.sh VIBEEC VIBEE-RUN DATA   (exit 77 without python onnx)
set -u
here=$(dirname "$0")
if [ ! -f "$3/node/ONNX_VERSION" ]; then
	python3 "$here/../../scripts/gen_onnx_node_tests.py" "$3" || exit $?
fi
exec python3 "$here/run_node_tests.py" --vibeec "$1" --vibee-run "$2" --jobs 2 \
	--root "$3/node" --expect "$here/expected_onnx123.txt"
