#!/usr/bin/env python3
"""Write the ONNX backend node tests of the installed onnx wheel (1.23: opsets
up to 23+, float8/int4/float4 types) in the libonnx-testdata layout:
OUT/node/<test>/model.onnx and test_data_set_N/{input,output}_K.pb. The wheel
ships the test cases (onnx.backend.test.case.node) but not their data, and
its `cmd_tools generate-data` writes only the model tests.

usage: gen_onnx_node_tests.py OUT      (exit 77 without python onnx)
"""
import os, shutil, sys, warnings

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper, TensorProto
    import onnx.backend.test.case.node as node_cases
except ImportError:
    print("python onnx not available: skipped")
    sys.exit(77)

def proto_of(value, vinfo):
    """The serialized proto of one input/output value."""
    t = vinfo.type
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(value, vinfo.name)
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(value, vinfo.name)
    if t.HasField("map_type"):
        return numpy_helper.from_dict(value, vinfo.name)
    if isinstance(value, TensorProto):
        return value
    return numpy_helper.from_array(np.asarray(value), vinfo.name)

def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = os.path.join(sys.argv[1], "node")
    warnings.simplefilter("ignore")
    cases = node_cases.collect_testcases()
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    n = 0
    for case in cases:
        d = os.path.join(out, case.name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        g = case.model.graph
        for i, (inputs, outputs) in enumerate(case.data_sets or []):
            ds = os.path.join(d, "test_data_set_%d" % i)
            os.makedirs(ds, exist_ok=True)
            for j, v in enumerate(inputs):
                with open(os.path.join(ds, "input_%d.pb" % j), "wb") as f:
                    f.write(proto_of(v, g.input[j]).SerializeToString())
            for j, v in enumerate(outputs):
                with open(os.path.join(ds, "output_%d.pb" % j), "wb") as f:
                    f.write(proto_of(v, g.output[j]).SerializeToString())
        n += 1
    with open(os.path.join(out, "ONNX_VERSION"), "w") as f:
        f.write(onnx.__version__ + "\n")
    print("%d node tests of onnx %s written to %s" % (n, onnx.__version__, out))
    return 0

if __name__ == "__main__":
    sys.exit(main())
