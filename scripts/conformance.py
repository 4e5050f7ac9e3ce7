#!/usr/bin/env python3
"""The README's conformance table: runs the libonnx-testdata suites (node,
pytorch-converted, pytorch-operator, simple) through vibeec + vibee-run with
tests/node/run_node_tests.py and counts, per suite and per dtype of each
test's graph inputs/outputs, how many tests are in scope and how many pass.

Out of scope (issue 3): training ops (ai.onnx.preview.training), string
tensors, and sequence/optional/map values.

Also: the same suites through the reference evaluator alone (--vibee-eval,
tools/vibee-eval: no code generation), how many passing tests compile to
generated kernels only (loop or library kernels, no reference-kernel CALL), and, with --onnx123
DIR (made by scripts/gen_onnx_node_tests.py), the node tests of the onnx
1.23 wheel (opsets up to 28, float8/int4 types).

usage: scripts/conformance.py --vibeec B --vibee-run R [--vibee-eval E]
                              [--onnx123 DIR] [--jobs N] [--readme README.md] [--update]
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
      9: "bool", 10: "f16", 11: "f64", 12: "u32", 13: "u64", 14: "c64", 15: "c128", 16: "bf16",
      17: "f8e4m3fn", 18: "f8e4m3fnuz", 19: "f8e5m2", 20: "f8e5m2fnuz", 21: "u4", 22: "i4",
      23: "f4e2m1", 24: "f8e8m0", 25: "u2", 26: "i2"}

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

def expect_file(suite, evaluator):
    base = {"node": "expected_failures.txt", "onnx123": "expected_onnx123.txt"}.get(
        suite, "expected_%s.txt" % suite)
    if evaluator:
        base = "expected_eval.txt" if suite == "node" else "expected_eval_%s.txt" % suite
    return os.path.join(HERE, "..", "tests", "node", base)

def run_suite(args, suite, root, out, evaluator=False):
    tool = (["--vibee-eval", args.vibee_eval] if evaluator else
            ["--vibeec", args.vibeec, "--vibee-run", args.vibee_run])
    subprocess.run([sys.executable, RUNNER] + tool +
                   ["--jobs", str(args.jobs), "--root", root,
                    "--expect", expect_file(suite, evaluator), "--results", out] +
                   (["--update"] if args.update else []), check=False,
                   stdout=subprocess.DEVNULL)
    r = json.load(open(out))
    return r["tests"], r.get("kernels", {})

def pct(a, b):
    return "%.1f%%" % (100.0 * a / b) if b else "-"

def table(args):
    rows, per_dt = [], collections.defaultdict(lambda: [0, 0, 0, 0])
    calls = collections.Counter()
    tot = [0] * 6
    tmp = tempfile.mkdtemp(prefix="vibee-conf-")
    suites = [(s, os.path.join(DATA, s)) for s in SUITES]
    if args.onnx123:
        suites.append(("onnx123", args.onnx123))
    for suite, root in suites:
        res, ks = run_suite(args, suite, root, os.path.join(tmp, suite + ".json"))
        ev = None
        if args.vibee_eval:
            ev, _ = run_suite(args, suite, root, os.path.join(tmp, suite + ".eval.json"), True)
        n = inscope = passed = lowered = epassed = 0
        for name, (ok, _) in sorted(res.items()):
            scope, dts = classify(os.path.join(root, name, "model.onnx"))
            n += 1
            if scope:
                continue
            inscope += 1
            passed += ok
            low = ok and name in ks and ks[name][1] == 0
            lowered += low
            if ev is not None:
                epassed += ev.get(name, [False])[0]
            if ok and name in ks:
                calls.update(set(ks[name][2]))
            col = 2 if suite == "onnx123" else 0
            for d in dts:
                per_dt[d][col] += 1
                per_dt[d][col + 1] += ok
        rows.append((suite, n, inscope, passed, lowered, epassed if ev is not None else None))
        if suite != "onnx123":
            tot = [a + b for a, b in zip(tot, [n, inscope, passed, lowered, epassed, 0])]
    label = {"onnx123": "onnx 1.23 node (opsets 1-28)"}
    out = ["| suite | tests | in scope | passed | % of in scope | passed, no reference calls "
           "| passed, reference evaluator alone |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    def line(s, n, i, p, lo, e):
        return "| %s | %d | %d | %d | %s | %d (%s) | %s |" % (
            s, n, i, p, pct(p, i), lo, pct(lo, i),
            "-" if e is None else "%d (%s)" % (e, pct(e, i)))
    for s, n, i, p, lo, e in rows:
        if s != "onnx123":
            out.append(line(s, n, i, p, lo, e))
    out.append(line("**all libonnx-testdata (ONNX 1.12)**", tot[0], tot[1], tot[2], tot[3],
                    tot[4] if args.vibee_eval else None))
    for s, n, i, p, lo, e in rows:
        if s == "onnx123":
            out.append(line(label[s], n, i, p, lo, e))
    out += ["", "\"No reference calls\": every kernel of the compiled model is generated loop "
            "code or a library kernel (runtime/k*.c: GEMM, conv, pools, attention, scans); the other passing tests call at least one reference kernel (ir/ref_*.c) "
            "from the model.so. Ops most often compiled as reference calls, by passing tests "
            "using them: " + ", ".join("%s %d" % kv for kv in calls.most_common(12)) + ".",
            "", "Per dtype (in-scope tests whose graph inputs or outputs use it; "
            "a test counts under each of its dtypes):", "",
            "| dtype | ONNX 1.12 tests | passed | % | onnx 1.23 tests | passed | % |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    order = ["f32", "f16", "bf16", "f64", "i8", "i16", "i32", "i64",
             "u8", "u16", "u32", "u64", "bool"]
    for d in sorted(per_dt, key=lambda x: (order.index(x) if x in order else 99, x)):
        i, p, i2, p2 = per_dt[d]
        out.append("| %s | %d | %d | %s | %d | %d | %s |" % (d, i, p, pct(p, i), i2, p2, pct(p2, i2)))
    return "\n".join(out) + "\n"

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vibeec", required=True)
    ap.add_argument("--vibee-run", required=True)
    ap.add_argument("--vibee-eval", help="also run the suites through the reference evaluator")
    ap.add_argument("--onnx123", help="node tests of the onnx 1.23 wheel (gen_onnx_node_tests.py)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--update", action="store_true",
                    help="also rewrite each suite's expectations file (run_node_tests --update)")
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
