#!/usr/bin/env python3
"""Seed corpora for the libFuzzer harnesses, generated (never committed):
small ONNX models (node tests, hostile cases, the samples with their large
weights turned into graph inputs), TensorProto files, and IR text.
Usage: make_seeds.py HARNESS OUTDIR [--vibeec PATH]"""
import argparse, glob, hashlib, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
NODE = "/usr/share/libonnx-testdata/data/node"


def put(out, data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def small_files(pattern, limit):
    for p in sorted(glob.glob(pattern)):
        if os.path.getsize(p) <= limit:
            yield p


def stripped_samples(limit):
    """The samples with every initializer over 256 bytes made a graph input:
    the graph structure stays, the file shrinks to a few KB."""
    try:
        import onnx
    except ImportError:
        return
    for p in sorted(glob.glob(os.path.join(SRC, "samples", "*", "model.onnx"))):
        m = onnx.load(p)
        g = m.graph
        keep = []
        for t in g.initializer:
            if len(t.raw_data) > 256 or len(t.float_data) > 64:
                g.input.append(onnx.helper.make_tensor_value_info(
                    t.name, t.data_type, list(t.dims)))
            else:
                keep.append(t)
        del g.initializer[:]
        g.initializer.extend(keep)
        data = m.SerializeToString()
        if len(data) <= limit:
            yield data


def models(out, limit):
    n = 0
    for p in small_files(os.path.join(NODE, "*", "model.onnx"), limit):
        put(out, open(p, "rb").read())
        n += 1
    for p in small_files(os.path.join(SRC, "tests", "hostile", "*.onnx"), limit):
        put(out, open(p, "rb").read())
        n += 1
    for data in stripped_samples(limit):
        put(out, data)
        n += 1
    return n


def tensors(out):
    n = 0
    for p in small_files(os.path.join(NODE, "*", "test_data_set_0", "*.pb"), 2048):
        put(out, open(p, "rb").read())
        n += 1
    for p in small_files(os.path.join(SRC, "samples", "*", "test_data_set_0", "*.pb"), 65536):
        put(out, open(p, "rb").read())
        n += 1
    return n


def ir_text(out, vibeec):
    n = 0
    for p in sorted(glob.glob(os.path.join(SRC, "tests", "ir", "*.vir"))):
        put(out, open(p, "rb").read())
        n += 1
    if not vibeec:
        return n
    # every 4th small node model, as printed IR (weights in full)
    for i, p in enumerate(small_files(os.path.join(NODE, "*", "model.onnx"), 2048)):
        if i % 4:
            continue
        r = subprocess.run([vibeec, p, "--emit=ir", "--print-full", "-O0"],
                           capture_output=True, timeout=30)
        if r.returncode == 0 and 0 < len(r.stdout) <= 16384:
            put(out, r.stdout)
            n += 1
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("harness", choices=["onnx", "pipeline", "tensorpb", "ir_parse"])
    ap.add_argument("out")
    ap.add_argument("--vibeec")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.harness == "onnx":
        n = models(a.out, 1 << 16)
    elif a.harness == "pipeline":
        n = models(a.out, 1 << 14)
    elif a.harness == "tensorpb":
        n = tensors(a.out)
    else:
        n = ir_text(a.out, a.vibeec)
    print("make_seeds: %d seeds for %s in %s" % (n, a.harness, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
