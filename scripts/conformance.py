#!/usr/bin/env python3
"""The README's conformance table: runs the libonnx-testdata suites (node,
pytorch-converted, pytorch-operator, simple) through vibeec + vibee-run with
tests/node/run_node_tests.py and counts, per suite and per dtype of each
test's graph inputs/outputs, how many tests are in scope and how many pass.

Out of scope (issue 3): training ops (ai.onnx.preview.training), string
tensors, and sequence/optional/map values.

usage: scripts/conformance.py --vibeec B --vibee-run R [--jobs N]
                              [--readme README.md]
  --readme rewrites the table between the conformance markers in place.
"""
import argparse, collections, json, os, subprocess, sys, tempfile
import onnx

DATA = "/usr/share/libonnx-testdata/data"
SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"]
HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "..", "tests", "node", "run_node_tests.py")
SEQ_OPS = {"SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceAt",
           "SequenceErase", "SequenceLength", "SplitToSequence", "ConcatFromSequence",
           "SequenceMap", "Optional", "OptionalGetElement", "OptionalHasElement"}
DT = {1: "f32", 2: "u8", 3: "i8", 4: "u16", 5: "i16", 6: "i32", 7: "i64", 8: "string",
      9: "bool", 10: "f16", 11: "f64", 12: "u32", 13: "u64", 16: "bf16"}

def all_nodes(g):
    for n in g.node:
        yield n
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from all_nodes(a.g)
            for sg in a.graphs:
                yield from all_nodes(sg)

def classify(model_path):
    """(scope, dtypes): scope is None when in scope, else why not."""
    m = onnx.load(model_path, load_external_data=False)
    g = m.graph
    vals = list(g.input) + list(g.output)
    dts = set()
    nontensor = False
    for v in vals:
        k = v.type.WhichOneof("value")
        if k != "tensor_type":
            nontensor = True
        else:
            dts.add(DT.get(v.type.tensor_type.elem_type, "other"))
    nodes = list(all_nodes(g))
    if any(n.domain == "ai.onnx.preview.training" for n in nodes):
        return "training", dts
    if "string" in dts or any(t.data_type == 8 for t in g.initializer):
        return "string", dts
    if nontensor or any(n.op_type in SEQ_OPS for n in nodes):
        return "sequence/optional", dts
    return None, dts

def run_suite(args, suite, out):
    expect = os.path.join(HERE, "..", "tests", "node",
                          "expected_failures.txt" if suite == "node" else "expected_%s.txt" % suite)
    subprocess.run([sys.executable, RUNNER, "--vibeec", args.vibeec, "--vibee-run", args.vibee_run,
                    "--jobs", str(args.jobs), "--root", os.path.join(DATA, suite),
                    "--expect", expect, "--results", out], check=False,
                   stdout=subprocess.DEVNULL)
    return json.load(open(out))["tests"]

def pct(a, b):
    return "%.1f%%" % (100.0 * a / b) if b else "-"

def table(args):
    rows, per_dt = [], collections.defaultdict(lambda: [0, 0])
    tot = [0, 0, 0]
    tmp = tempfile.mkdtemp(prefix="vibee-conf-")
    for suite in SUITES:
        res = run_suite(args, suite, os.path.join(tmp, suite + ".json"))
        n = inscope = passed = 0
        for name, (ok, _) in sorted(res.items()):
            scope, dts = classify(os.path.join(DATA, suite, name, "model.onnx"))
            n += 1
            if scope:
                continue
            inscope += 1
            passed += ok
            for d in dts:
                per_dt[d][0] += 1
                per_dt[d][1] += ok
        rows.append((suite, n, inscope, passed))
        tot = [tot[0] + n, tot[1] + inscope, tot[2] + passed]
    out = ["| suite | tests | in scope | passed | % of in scope |",
           "|---|---:|---:|---:|---:|"]
    for s, n, i, p in rows:
        out.append("| %s | %d | %d | %d | %s |" % (s, n, i, p, pct(p, i)))
    out.append("| **all** | %d | %d | %d | %s |" % (tot[0], tot[1], tot[2], pct(tot[2], tot[1])))
    out += ["", "Per dtype (in-scope tests whose graph inputs or outputs use it; "
            "a test counts under each of its dtypes):", "",
            "| dtype | tests | passed | % |", "|---|---:|---:|---:|"]
    order = ["f32", "f16", "bf16", "f64", "i8", "i16", "i32", "i64",
             "u8", "u16", "u32", "u64", "bool", "other"]
    for d in sorted(per_dt, key=lambda x: order.index(x) if x in order else 99):
        i, p = per_dt[d]
        out.append("| %s | %d | %d | %s |" % (d, i, p, pct(p, i)))
    return "\n".join(out) + "\n"

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vibeec", required=True)
    ap.add_argument("--vibee-run", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--readme", help="rewrite the table in this README")
    args = ap.parse_args()
    if not os.path.isdir(DATA):
        print("libonnx-testdata not found at %s" % DATA)
        return 77
    t = table(args)
    if args.readme:
        text = open(args.readme).read()
        b, e = "<!-- conformance:begin -->\n", "<!-- conformance:end -->"
        i, j = text.find(b), text.find(e)
        if i < 0 or j < i:
            print("no conformance markers in %s" % args.readme)
            return 1
        open(args.readme, "w").write(text[:i + len(b)] + t + text[j:])
    sys.stdout.write(t)
    return 0

if __name__ == "__main__":
    sys.exit(main())
