#!/usr/bin/env python3
"""Generates the hostile-input test files next to this script (committed;
rerun only to change them): malformed models that vibeec must refuse with one
line on stderr, and a valid tiny model with good and bad input data for
vibee-run. Deterministic: same files on every run.

Usage: /usr/bin/python3 tests/hostile/make_hostile.py
"""
import os
import random

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = [helper.make_opsetid("", 17)]


def save_model(graph, name):
    m = helper.make_model(graph, opset_imports=OPSET, producer_name="make_hostile")
    m.ir_version = 8
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


def save_tensor(arr, name, rel):
    os.makedirs(os.path.dirname(os.path.join(HERE, rel)), exist_ok=True)
    t = numpy_helper.from_array(arr, name)
    with open(os.path.join(HERE, rel), "wb") as f:
        f.write(t.SerializeToString())


def add_graph():
    """y = x + b, x: f32 [2,3], b: f32 [3] initializer."""
    b = numpy_helper.from_array(np.array([1.0, -2.0, 0.5], np.float32), "b")
    node = helper.make_node("Add", ["x", "b"], ["y"], name="add")
    return helper.make_graph(
        [node], "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [b])


def main():
    # The valid model and its data sets.
    add = save_model(add_graph(), "add.onnx")
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    save_tensor(x, "x", "good/input_0.pb")
    save_tensor(x + np.array([1.0, -2.0, 0.5], np.float32), "y", "good/output_0.pb")
    save_tensor(x.astype(np.int64), "x", "wrong_dtype/input_0.pb")
    save_tensor(x.reshape(3, 2), "x", "wrong_shape/input_0.pb")

    # A valid model cut in half.
    data = open(add, "rb").read()
    with open(os.path.join(HERE, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])

    # Random bytes.
    rng = random.Random(1234)
    with open(os.path.join(HERE, "random.onnx"), "wb") as f:
        f.write(bytes(rng.randrange(256) for _ in range(4096)))

    # A node reading a value nothing defines.
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "nope"], ["y"], name="add")], "undef",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    save_model(g, "undefined_input.onnx")

    # An initializer whose external data escapes the model's folder.
    w = TensorProto()
    w.name = "w"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([4])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "16")):
        e = w.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")], "ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [w])
    save_model(g, "ext_escape.onnx")

    # An input dim of 2^62.
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")], "huge",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 1 << 62])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 1 << 62])])
    save_model(g, "huge_dim.onnx")

    # Two nodes feeding each other.
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
         helper.make_node("Relu", ["a"], ["b"], name="n2")], "cycle",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])])
    save_model(g, "cycle.onnx")

    # An initializer whose raw_data is shorter than its dims say.
    s = numpy_helper.from_array(np.zeros(3, np.float32), "s")
    s.dims[0] = 1000
    g = add_graph()
    del g.initializer[:]
    g.initializer.extend([s])
    g.node[0].input[1] = "s"
    save_model(g, "short_data.onnx")

    # Messages nested 3000 deep (If-style graph attributes inside nodes),
    # written as raw protobuf: Model.graph(7) > Graph.node(1) >
    # Node.attribute(5) > Attribute.g(6) > Graph.node(1) > ...
    def field(num, payload):
        return varint(num << 3 | 2) + varint(len(payload)) + payload

    def varint(v):
        out = b""
        while True:
            b = v & 0x7F
            v >>= 7
            out += bytes([b | (0x80 if v else 0)])
            if not v:
                return out
    inner = b""
    for _ in range(1000):
        inner = field(1, field(5, field(6, inner)))
    opset = field(8, varint(2 << 3 | 0) + varint(17))      # opset_import
    deep = varint(1 << 3 | 0) + varint(8) + opset + field(7, inner)
    with open(os.path.join(HERE, "deep.onnx"), "wb") as f:
        f.write(deep)

    # Tensors whose byte size overflows 64 bits or passes the 1 TiB limit:
    # an input [2^40]*4, ConstantOfShape [2^20]*3, Expand to [2^31, 2^31].
    T = TensorProto
    vi = helper.make_tensor_value_info
    save_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "huge_numel",
        [vi("x", T.FLOAT, [2**40] * 4)], [vi("y", T.FLOAT, None)]),
        "huge_numel.onnx")
    shp = helper.make_tensor("s", T.INT64, [3], [2**20] * 3)
    save_model(helper.make_graph(
        [helper.make_node("ConstantOfShape", ["s"], ["y"])], "cos_huge",
        [], [vi("y", T.FLOAT, None)], [shp]), "cos_huge.onnx")
    shp = helper.make_tensor("s", T.INT64, [2], [2**31, 2**31])
    save_model(helper.make_graph(
        [helper.make_node("Expand", ["x", "s"], ["y"])], "expand_huge",
        [vi("x", T.FLOAT, [1])], [vi("y", T.FLOAT, None)], [shp]),
        "expand_huge.onnx")

    ext_model()


def ext_model():
    """ext/model.onnx: add.onnx with b as external data in "w.bin" (ext/w.bin
    holds the right bytes). run.sh copies the model into fresh folders and
    makes w.bin there a copy, a symlink inside or outside the folder, a
    directory, a FIFO, ... ; the good data set is good/."""
    g = add_graph()
    b = g.initializer[0]
    w = np.array([1.0, -2.0, 0.5], np.float32).tobytes()
    b.ClearField("raw_data")
    del b.float_data[:]
    b.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "w.bin"), ("offset", "0"), ("length", str(len(w)))):
        e = b.external_data.add()
        e.key, e.value = k, v
    os.makedirs(os.path.join(HERE, "ext"), exist_ok=True)
    save_model(g, os.path.join("ext", "model.onnx"))
    with open(os.path.join(HERE, "ext", "w.bin"), "wb") as f:
        f.write(w)


if __name__ == "__main__":
    main()
