#!/usr/bin/env python3
"""Run the ONNX backend node tests (Debian libonnx-testdata) through vibeec
and vibee-run, and compare the outcome of every test with the checked-in
expectations file: a test listed there is expected to fail (with the reason
given); any other test must pass. An unexpected pass or failure fails the run.

The other suites of the package (pytorch-converted, pytorch-operator,
simple) run the same way: --root DIR/<suite> --expect expected_<suite>.txt.
--results F writes every test's outcome as JSON (for scripts/conformance.py).

--vibee-eval E runs every test through the reference evaluator alone instead
(tools/vibee-eval: no code generation), against its own expectations file.

usage: run_node_tests.py (--vibeec B --vibee-run R | --vibee-eval E) [--root DIR]
                         [--expect F] [--jobs N] [--update] [--filter SUBSTR] [--results F]
"""
import argparse, concurrent.futures as cf, json, os, re, shutil, subprocess, sys, tempfile

def first_line(s):
    for line in s.splitlines():
        line = line.strip()
        if line:
            return line
    return ""

def reason_of(msg):
    """Shorten an error message into a stable reason for the expectations file."""
    msg = re.sub(r"^vibee(c|-run|-eval): ", "", msg)
    msg = re.sub(r"^\S+\.(onnx|so|pb): ", "", msg)
    msg = re.sub(r"node '[^']*' ", "", msg)
    msg = re.sub(r"\s+", " ", msg)
    return msg[:160]

KSTATS = {}   # test -> [loop kernels, reference-call kernels, ops of the calls]

def run_eval(args, name):
    """--vibee-eval: the reference evaluator alone, no code generation."""
    tdir = os.path.join(args.root, name)
    sets = sorted(d for d in os.listdir(tdir) if d.startswith("test_data_set_"))
    for ds in sets:
        try:
            p = subprocess.run([args.vibee_eval, os.path.join(tdir, "model.onnx"), "--data",
                                os.path.join(tdir, ds)],
                               capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return name, False, "eval: timeout"
        if p.returncode >= 128 or p.returncode < 0:
            return name, False, "eval: CRASH (signal)"
        if p.returncode == 1 and "FAIL" in p.stdout:
            return name, False, "eval: mismatch"
        if p.returncode != 0:
            return name, False, "eval: " + reason_of(first_line(p.stderr))
    return name, True, ""

def run_test(args, name, workdir):
    if args.vibee_eval:
        return run_eval(args, name)
    tdir = os.path.join(args.root, name)
    so = os.path.join(workdir, name + ".so")
    try:
        p = subprocess.run([args.vibeec, os.path.join(tdir, "model.onnx"), "-o", so, "--stats"]
                       + (["--target=" + args.target] if args.target else []),
                           capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return name, False, "compile: timeout"
    m = re.search(r"(\d+) loop, (?:(\d+) library, )?(\d+) reference calls", p.stderr)
    if m:      # generated kernels (loop + library), reference calls, and their ops
        m2 = re.search(r"reference calls: (.*)", p.stderr)
        KSTATS[name] = [int(m.group(1)) + int(m.group(2) or 0), int(m.group(3)),
                        m2.group(1).split() if m2 else []]
    if p.returncode != 0:
        if p.returncode >= 128 or p.returncode < 0:
            return name, False, "compile: CRASH (signal)"
        err = [l for l in p.stderr.splitlines() if l.startswith("vibeec: ") and
               not re.match(r"vibeec: (\d+ kernels|reference calls)", l)]
        return name, False, "compile: " + reason_of(err[0] if err else first_line(p.stderr))
    sets = sorted(d for d in os.listdir(tdir) if d.startswith("test_data_set_"))
    try:
        for ds in sets:
            try:
                p = subprocess.run([args.vibee_run, so, "--data", os.path.join(tdir, ds),
                                    "--threads", "1"],
                                   capture_output=True, text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                return name, False, "run: timeout"
            if p.returncode == 1:
                return name, False, "run: mismatch"
            if p.returncode != 0:
                if p.returncode >= 128 or p.returncode < 0:
                    return name, False, "run: CRASH (signal)"
                return name, False, "run: " + reason_of(first_line(p.stderr))
    finally:
        if os.path.exists(so):
            os.unlink(so)
    return name, True, ""

def load_expect(path):
    exp = {}
    if os.path.exists(path):
        for line in open(path):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            name, _, why = line.partition(" ")
            exp[name] = why.strip()
    return exp

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vibeec")
    ap.add_argument("--vibee-run")
    ap.add_argument("--vibee-eval", help="run through the reference evaluator alone "
                    "(tools/vibee-eval) instead of compiling")
    ap.add_argument("--root", default="/usr/share/libonnx-testdata/data/node")
    ap.add_argument("--expect", default=os.path.join(os.path.dirname(__file__), "expected_failures.txt"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--update", action="store_true",
                    help="rewrite the expectations file (reasons written by hand, in [brackets], are kept)")
    ap.add_argument("--filter", default="")
    ap.add_argument("--target", default="", help="vibeec --target (e.g. opencl)")
    ap.add_argument("--also-expect", default="",
                    help="expectations of another run that hold here too (the CPU's, for --target);"
                         " --expect then lists only the failures beyond those")
    ap.add_argument("--results", help="write {test: [passed, reason]} as JSON here")
    args = ap.parse_args()
    if not args.vibee_eval and not (args.vibeec and args.vibee_run):
        ap.error("give --vibeec and --vibee-run, or --vibee-eval")
    if not os.path.isdir(args.root):
        print("node tests not found at %s (install libonnx-testdata)" % args.root)
        return 77
    names = sorted(n for n in os.listdir(args.root)
                   if os.path.exists(os.path.join(args.root, n, "model.onnx")) and args.filter in n)
    base = load_expect(args.also_expect) if args.also_expect else {}
    exp = dict(base, **load_expect(args.expect))
    work = tempfile.mkdtemp(prefix="vibee-node-")
    results = {}
    try:
        with cf.ThreadPoolExecutor(max_workers=args.jobs) as ex:
            for name, ok, why in ex.map(lambda n: run_test(args, n, work), names):
                results[name] = (ok, why)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    npass = sum(1 for ok, _ in results.values() if ok)
    nodev = [n for n, (ok, why) in results.items() if "no OpenCL device found" in why
             or "no CUDA driver found" in why or "no CUDA device found" in why]
    if nodev and len(nodev) == len(results) - npass and npass == 0:
        print("no device for --target=%s: %s" % (args.target, results[nodev[0]][1]))
        return 77
    if args.results:
        with open(args.results, "w") as f:
            json.dump({"root": os.path.abspath(args.root),
                       "tests": {n: list(results[n]) for n in sorted(results)},
                       "kernels": KSTATS}, f, indent=0)
    suite = os.path.basename(os.path.normpath(args.root))
    if args.update:
        old = load_expect(args.expect)   # hand-written reasons survive an update
        with open(args.expect, "w") as f:
            if args.vibee_eval:
                f.write("# suite '%s' through the reference evaluator alone (tools/vibee-eval):\n"
                        "# tests not yet passing, and why.\n" % suite)
            elif suite == "node":
                f.write("# ONNX 1.12 node tests (libonnx-testdata) not yet passing, and why.\n")
            else:
                f.write("# libonnx-testdata suite '%s': tests not yet passing, and why.\n" % suite)
            f.write("# Regenerate: tests/node/run_node_tests.py ... --update\n")
            f.write("# %d of %d tests pass.\n" % (npass, len(results)))
            for name in sorted(results):
                ok, why = results[name]
                if not ok and name not in base:
                    keep = old.get(name, "")
                    f.write("%s %s\n" % (name, keep if keep.startswith("[") else why))
        exp = dict(base, **load_expect(args.expect))
    passed = failed = skipped = 0
    crashes = 0
    for name in sorted(results):
        ok, why = results[name]
        if "CRASH" in why or "timeout" in why:
            crashes += 1
        if name in exp:
            if ok:
                failed += 1
                print("UNEXPECTED PASS %s (listed: %s)" % (name, exp[name]))
            else:
                skipped += 1
        elif ok:
            passed += 1
        else:
            failed += 1
            print("UNEXPECTED FAIL %s: %s" % (name, why))
    print("%s tests: %d of %d pass; %d known failures listed in %s"
          % (suite, npass, len(results), skipped, os.path.basename(args.expect)))
    if crashes:
        print("crashes or timeouts: %d" % crashes)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed or (crashes and not args.update) else 0

if __name__ == "__main__":
    sys.exit(main())
