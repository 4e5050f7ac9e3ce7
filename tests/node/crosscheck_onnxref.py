#!/usr/bin/env python3
"""Cross-check vibeec's reference evaluator (tools/vibee-eval) against
onnx.reference.ReferenceEvaluator (the onnx wheel's Python evaluator) on the
test models both accept: same inputs (each test_data_set_N), outputs
compared with |a-b| <= atol + rtol*|b|, independently of the suite's own
expected outputs. A test both evaluators run but where they disagree must
be listed in the expectations file with a reason (the reason says which one
is right, from the ONNX spec); an unexpected disagreement or agreement fails
the run, except that a listed "[random ...]" test may also agree: two
independent draws can coincide.

usage: crosscheck_onnxref.py VIBEE-EVAL [--root DIR] [--expect F] [--update]
                             [--jobs N] [--filter S]      (exit 77 without onnx)
"""
import argparse, concurrent.futures as cf, os, shutil, subprocess, sys, tempfile, warnings
try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator
except ImportError:
    print("python onnx/numpy not available: skipped")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))

def load_pb(path):
    t = onnx.TensorProto()
    t.ParseFromString(open(path, "rb").read())
    return numpy_helper.to_array(t)

def close(a, b, rtol, atol):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False, "shape %s vs %s" % (a.shape, b.shape)
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
        err = np.abs(a64 - b64)
        ok = same | (err <= atol + rtol * np.abs(b64))
        if not ok.all():
            return False, "max abs diff %.3g" % float(np.nanmax(np.where(same, 0, err)))
        return True, ""
    if not np.array_equal(a.astype(np.int64) if a.dtype != bool else a,
                          b.astype(np.int64) if b.dtype != bool else b):
        return False, "integer values differ"
    return True, ""

def check(args, name, work):
    """-> (name, status, detail); status: agree, disagree, skip (one refuses)."""
    tdir = os.path.join(args.root, name)
    model = os.path.join(tdir, "model.onnx")
    sets = sorted(d for d in os.listdir(tdir) if d.startswith("test_data_set_"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = onnx.load(model)
            ref = ReferenceEvaluator(m)
    except Exception as e:
        return name, "skip", "onnx.reference refuses: %s" % type(e).__name__
    innames = [i.name for i in m.graph.input
               if i.name not in {t.name for t in m.graph.initializer}]
    for ds in sets:
        d = os.path.join(tdir, ds)
        out = os.path.join(work, name + "." + ds)
        p = subprocess.run([args.vibee_eval, model, "--data", d, "--out", out],
                           capture_output=True, text=True, timeout=args.timeout)
        if p.returncode not in (0, 1) or not os.path.isdir(out):
            return name, "skip", "vibee-eval refuses"
        try:
            feeds = {n: load_pb(os.path.join(d, "input_%d.pb" % i)) for i, n in enumerate(innames)}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = ref.run(None, feeds)
        except Exception as e:
            shutil.rmtree(out, ignore_errors=True)
            return name, "skip", "onnx.reference fails: %s" % type(e).__name__
        for k, w in enumerate(want):
            f = os.path.join(out, "output_%d.pb" % k)
            if not os.path.exists(f):
                return name, "disagree", "output %d missing" % k
            ok, why = close(load_pb(f), w, args.rtol, args.atol)
            if not ok:
                shutil.rmtree(out, ignore_errors=True)
                return name, "disagree", "%s output %d: %s" % (ds, k, why)
        shutil.rmtree(out, ignore_errors=True)
    return name, "agree", ""

def load_expect(path):
    exp = {}
    if os.path.exists(path):
        for line in open(path):
            if line.strip() and not line.startswith("#"):
                n, _, why = line.rstrip("\n").partition(" ")
                exp[n] = why.strip()
    return exp

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vibee_eval")
    ap.add_argument("--root", default="/usr/share/libonnx-testdata/data/node")
    ap.add_argument("--expect", default=os.path.join(HERE, "expected_crosscheck.txt"))
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    if not os.path.isdir(args.root):
        print("tests not found at %s" % args.root)
        return 77
    names = sorted(n for n in os.listdir(args.root) if args.filter in n and
                   os.path.exists(os.path.join(args.root, n, "model.onnx")))
    work = tempfile.mkdtemp(prefix="vibee-xref-")
    try:
        with cf.ThreadPoolExecutor(max_workers=args.jobs) as ex:
            res = list(ex.map(lambda n: check(args, n, work), names))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    exp = load_expect(args.expect)
    if args.update:
        with open(args.expect, "w") as f:
            f.write("# vibee-eval vs onnx.reference: tests both run where they disagree, and why.\n"
                    "# Regenerate: tests/node/crosscheck_onnxref.py VIBEE-EVAL --update "
                    "(reasons in [brackets] are kept)\n")
            for n, st, why in res:
                if st == "disagree":
                    keep = exp.get(n, "")
                    f.write("%s %s\n" % (n, keep if keep.startswith("[") else why))
        exp = load_expect(args.expect)
    count = {"agree": 0, "disagree": 0, "skip": 0}
    bad = 0
    for n, st, why in res:
        count[st] += 1
        if st == "disagree" and n not in exp:
            bad += 1
            print("UNEXPECTED DISAGREEMENT %s: %s" % (n, why))
        elif st == "agree" and exp.get(n, "").startswith("[random"):
            pass    # independent draws can coincide (test_bernoulli has 10 coin flips)
        elif st != "disagree" and n in exp:
            bad += 1
            print("UNEXPECTED %s %s (listed: %s)" % (st.upper(), n, exp[n]))
    both = count["agree"] + count["disagree"]
    print("%s: %d tests; both evaluators run %d: %d agree, %d disagree (listed in %s); "
          "%d skipped (one of them refuses)" % (os.path.basename(os.path.normpath(args.root)),
          len(res), both, count["agree"], count["disagree"], os.path.basename(args.expect),
          count["skip"]))
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
