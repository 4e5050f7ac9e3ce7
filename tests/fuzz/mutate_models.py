#!/usr/bin/env python3
"""Mutation sweep: N mutated real models (the samples and the ONNX node
tests; byte flips, truncation, and field-level edits through the onnx
protobuf classes) through vibeec with a time limit. Counts crashes (death
by a signal, sanitizer aborts), hangs, multi-line errors and bad exit
codes; keeps each offending model in --keep for a regression test.
Usage: mutate_models.py --vibeec PATH [-n 400] [--seed 1] [--timeout 30]
                         [--emit so|c]   (c: skip the C compiler, e.g. for a
                         sanitizer build, whose cc runs are slow)
Exit 0 when there is no finding."""
import argparse, concurrent.futures as cf, glob, os, random, shutil, \
    subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
NODE = "/usr/share/libonnx-testdata/data/node"

try:
    import onnx
    from onnx import TensorProto
except ImportError:
    onnx = None

BIG = [0, -1, 1, 2, 3, 7, 255, 65536, 2**31 - 1, 2**31, -2**31, 2**32 + 1,
       2**40, 2**62, 2**63 - 1, -2**63]


def pick_int(r):
    return r.choice(BIG) if r.random() < 0.7 else r.randint(-10, 10)


# ---- byte-level ----------------------------------------------------------
def flip_bytes(r, data):
    b = bytearray(data)
    for _ in range(r.randint(1, 16)):
        i = r.randrange(len(b))
        b[i] = r.randrange(256) if r.random() < 0.5 else b[i] ^ (1 << r.randrange(8))
    return bytes(b)


def truncate(r, data):
    return data[:r.randrange(len(data))]


def splice(r, data):
    i, j = sorted(r.randrange(len(data)) for _ in range(2))
    k = r.randrange(len(data))
    return data[:k] + data[i:j] + data[k:]


# ---- field-level (onnx protobuf) -----------------------------------------
def m_dims(r, m):
    vis = list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info)
    vis = [v for v in vis if v.type.HasField("tensor_type")]
    if not vis:
        return False
    sh = r.choice(vis).type.tensor_type.shape
    if not sh.dim or r.random() < 0.2:
        for _ in range(r.choice([1, 9, 40])):
            sh.dim.add().dim_value = r.randint(1, 3)
        return True
    d = r.choice(sh.dim)
    if r.random() < 0.7:
        d.dim_value = pick_int(r) if r.random() < 0.8 else 0
    else:
        d.dim_param = r.choice(["N", "", "x" * 300, "\n", "unk0"])
    return True


def m_attr(r, m):
    nodes = [n for n in m.graph.node if n.attribute]
    if not nodes:
        return False
    a = r.choice(r.choice(nodes).attribute)
    if a.type == onnx.AttributeProto.INT:
        a.i = pick_int(r)
    elif a.type == onnx.AttributeProto.INTS:
        if a.ints and r.random() < 0.7:
            a.ints[r.randrange(len(a.ints))] = pick_int(r)
        else:
            del a.ints[:]
            a.ints.extend(pick_int(r) for _ in range(r.choice([0, 1, 9, 100])))
    elif a.type == onnx.AttributeProto.FLOAT:
        a.f = r.choice([float("nan"), float("inf"), -1e38, 0.0])
    elif a.type == onnx.AttributeProto.TENSOR:
        a.t.data_type = r.randint(0, 25)
    else:
        a.type = r.randint(0, 14)            # a type that lies
    return True


def m_attr_add(r, m):
    if not m.graph.node:
        return False
    n = r.choice(m.graph.node)
    name = r.choice(["axis", "axes", "perm", "to", "pads", "strides",
                     "kernel_shape", "group", "keepdims", "mode", "value"])
    if r.random() < 0.5:
        n.attribute.append(onnx.helper.make_attribute(name, pick_int(r)))
    else:
        a = n.attribute.add()
        a.name, a.type = name, onnx.AttributeProto.INTS
        a.ints.extend(pick_int(r) for _ in range(r.randint(0, 10)))
    return True


def m_op(r, m):
    if not m.graph.node:
        return False
    n = r.choice(m.graph.node)
    others = [x.op_type for x in m.graph.node] + [
        "Reshape", "Gather", "Concat", "Conv", "MatMul", "Split", "Slice",
        "Expand", "Tile", "Pad", "Resize", "ConstantOfShape", "Range",
        "TopK", "Loop", "If", "Scan", "NonZero", "OneHot", "Einsum", "Foo"]
    n.op_type = r.choice(others)
    return True


def m_inputs(r, m):
    if not m.graph.node:
        return False
    n = r.choice(m.graph.node)
    names = [i.name for i in m.graph.input] + [t.name for t in m.graph.initializer]
    for x in m.graph.node:
        names += list(x.output)
    c = r.randrange(4)
    if c == 0 and n.input:
        del n.input[r.randrange(len(n.input))]
    elif c == 1 and names:
        n.input.append(r.choice(names))
    elif c == 2 and n.input and names:
        n.input[r.randrange(len(n.input))] = r.choice(names + ["", "nope"])
    else:
        n.output.append(r.choice(names + ["dup"]) if names else "dup")
    return True


def m_init(r, m):
    ts = list(m.graph.initializer)
    if not ts:
        return False
    t = r.choice(ts)
    c = r.randrange(6)
    if c == 0:
        t.data_type = r.randint(0, 25)
    elif c == 1 and t.dims:
        t.dims[r.randrange(len(t.dims))] = pick_int(r)
    elif c == 2:
        t.dims.append(r.choice([0, 2, 2**33]))
    elif c == 3 and t.raw_data:
        t.raw_data = t.raw_data[:r.randrange(len(t.raw_data))]
    elif c == 4:
        t.data_location = TensorProto.EXTERNAL
        e = t.external_data.add()
        e.key, e.value = "location", r.choice(
            ["../../../../etc/passwd", "/etc/passwd", "missing.bin",
             "a/../../x", ".", ""])
    else:
        m.graph.initializer.remove(t)
    return True


def m_nodes(r, m):
    ns = m.graph.node
    if not ns:
        return False
    c = r.randrange(3)
    if c == 0:
        ns.add().CopyFrom(r.choice(ns))      # duplicate a definition
    elif c == 1:
        del ns[r.randrange(len(ns))]
    else:
        i, j = r.randrange(len(ns)), r.randrange(len(ns))
        a, b = onnx.NodeProto(), onnx.NodeProto()
        a.CopyFrom(ns[i]); b.CopyFrom(ns[j])
        ns[i].CopyFrom(b); ns[j].CopyFrom(a)  # break topological order
    return True


def m_opset(r, m):
    if not m.opset_import:
        return False
    m.opset_import[0].version = r.choice([0, 1, 6, 7, 9, 11, 13, 17, 18, 99, -1])
    return True


def m_types(r, m):
    vis = [v for v in list(m.graph.input) + list(m.graph.output)
           if v.type.HasField("tensor_type")]
    if not vis:
        return False
    r.choice(vis).type.tensor_type.elem_type = r.randint(0, 25)
    return True


FIELD = [m_dims, m_attr, m_attr_add, m_op, m_inputs, m_init, m_nodes,
         m_opset, m_types]


def mutate(r, data):
    kind = r.random()
    if onnx is None or kind < 0.35:
        f = r.choice([flip_bytes, flip_bytes, truncate, splice])
        return f.__name__, f(r, data)
    m = onnx.ModelProto()
    m.ParseFromString(data)
    done = []
    for _ in range(r.choice([1, 1, 2, 3])):
        f = r.choice(FIELD)
        if f(r, m):
            done.append(f.__name__)
    return "+".join(done) or "none", m.SerializeToString()


def judge(p):
    """Classify a finished vibeec or vibee-run process."""
    err = p.stderr.decode("utf-8", "replace")
    lines = err.count("\n") + (1 if err and not err.endswith("\n") else 0)
    if p.returncode < 0 or p.returncode >= 128 or "Sanitizer" in err \
            or "runtime error" in err:
        return "crash", err
    if p.returncode == 0:
        return "ok", err
    if p.returncode not in (1, 2):
        return "badexit", err
    if lines != 1:
        return "multiline", err
    return "error", err


def run_one(a, path, data):
    """vibeec on the mutant; with --run, vibee-run on what it built, fed the
    original model's test data (which may no longer fit)."""
    out = path + "." + a.emit
    try:
        p = subprocess.run([a.vibeec, path, "--emit=" + a.emit, "-o", out],
                           capture_output=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        return "hang", ""
    what, err = judge(p)
    if what == "ok" and a.run and data and os.path.exists(out):
        try:
            p = subprocess.run([a.run, out, "--data", data, "--threads", "2"],
                               capture_output=True, timeout=a.timeout)
            what, err = judge(p)
            if what != "crash" and p.returncode == 1:
                what = "ok"                   # ran; results differ
            what = "ran" if what == "ok" else "run-" + what
        except subprocess.TimeoutExpired:
            what, err = "run-hang", ""
    if os.path.exists(out):
        os.unlink(out)
    return what, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vibeec", required=True)
    ap.add_argument("-n", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--emit", choices=["so", "c"], default="so")
    ap.add_argument("--run", metavar="VIBEE_RUN",
                    help="also run each model that compiles on the original "
                         "test_data_set_0 (a mismatch, exit 1, is fine)")
    ap.add_argument("--keep", default="mutants-found")
    a = ap.parse_args()
    r = random.Random(a.seed)
    bases = sorted(glob.glob(os.path.join(SRC, "samples", "*", "model.onnx")))
    node = sorted(glob.glob(os.path.join(NODE, "*", "model.onnx")))
    tmp = tempfile.mkdtemp(prefix="vibee-mut-")
    jobs = []
    for i in range(a.n):
        base = r.choice(bases) if r.random() < 0.15 or not node else r.choice(node)
        data = open(base, "rb").read()
        if not data:
            continue
        how, mut = mutate(r, data)
        p = os.path.join(tmp, "m%04d.onnx" % i)
        with open(p, "wb") as f:
            f.write(mut)
        data_dir = os.path.join(os.path.dirname(base), "test_data_set_0")
        jobs.append((p, os.path.basename(os.path.dirname(base)), how,
                     data_dir if os.path.isdir(data_dir) else None))
    counts = {}
    found = []
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        res = ex.map(lambda j: run_one(a, j[0], j[3]), jobs)
        for (p, base, how, _), (what, err) in zip(jobs, res):
            counts[what] = counts.get(what, 0) + 1
            if what.replace("run-", "") in ("crash", "hang", "multiline",
                                             "badexit"):
                os.makedirs(a.keep, exist_ok=True)
                keep = os.path.join(a.keep, "%s-%s-%s" % (what, base,
                                                          os.path.basename(p)))
                shutil.copy(p, keep)
                found.append(keep)
                print("%s: %s (%s) -> %s\n  %s" % (what.upper(), base, how, keep,
                      "\n  ".join(err.strip().splitlines()[:4])))
    shutil.rmtree(tmp, ignore_errors=True)
    total = sum(counts.values())
    c = lambda k: counts.get(k, 0)
    ran = sum(v for k, v in counts.items() if k == "ran" or k.startswith("run-"))
    print("mutants %d: compiled %d, one-line errors %d, crashes %d, hangs %d, "
          "multi-line errors %d, bad exit codes %d" % (
              total, c("ok") + ran, c("error"), c("crash"), c("hang"),
              c("multiline"), c("badexit")))
    if a.run:
        print("vibee-run on %d compiled mutants: ran %d, one-line errors %d, "
              "crashes %d, hangs %d, multi-line errors %d, bad exit codes %d" % (
                  ran, c("ran"), c("run-error"), c("run-crash"), c("run-hang"),
                  c("run-multiline"), c("run-badexit")))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
