#!/usr/bin/env python3
# The per-kernel profiler (runtime/kprof.c): a small model with loop and
# library kernels is compiled with vibeec and run by vibee-run with
# --profile and with VIBEE_PROFILE=1; the table on stderr must list every
# kernel of the model exactly once (as many rows as `vibeec --stats` counts,
# of its kinds, named by nodes of the graph) with the right call count, and
# nothing is printed when profiling is off. Timings are not checked. Then
# the pool's size as --threads, VIBEE_THREADS and the affinity mask set it.
# usage: profile_check.py VIBEEC VIBEE_RUN WORKDIR; exit 0 pass, 1 fail,
# 77 without onnx/numpy.
import os
import re
import subprocess
import sys

try:
	import numpy as np
	import onnx
	from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
	print("skipped: %s (run scripts/deps.sh)" % e)
	sys.exit(77)

vibeec, vrun, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
F = TensorProto.FLOAT
rng = np.random.default_rng(7)


def init(name, shape):
	return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


# conv (library, blocked layout) -> relu; matmul (library); exp, tanh, add
# (loop kernels); a reduce (loop) on a side branch
nodes = [
	helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
	helper.make_node("Relu", ["c"], ["r"], name="relu"),
	helper.make_node("Flatten", ["r"], ["f"], axis=1, name="flat"),
	helper.make_node("MatMul", ["f", "m"], ["y0"], name="mm"),
	helper.make_node("Exp", ["y0"], ["e"], name="exp"),
	helper.make_node("Tanh", ["y0"], ["t"], name="tanh"),
	helper.make_node("Add", ["e", "t"], ["y"], name="add"),
	helper.make_node("ReduceMax", ["x"], ["z"], axes=[2, 3], keepdims=0, name="rmax"),
]
g = helper.make_graph(nodes, "prof", [helper.make_tensor_value_info("x", F, [1, 16, 6, 6])],
	[helper.make_tensor_value_info("y", F, None), helper.make_tensor_value_info("z", F, None)],
	[init("w", [16, 16, 3, 3]), init("m", [576, 8])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
mpath = os.path.join(work, "model.onnx")
onnx.save(m, mpath)
data = os.path.join(work, "data")
os.makedirs(data, exist_ok=True)
with open(os.path.join(data, "input_0.pb"), "wb") as f:
	f.write(numpy_helper.from_array(rng.standard_normal([1, 16, 6, 6]).astype(np.float32),
		"x").SerializeToString())

so = os.path.join(work, "model.so")
st = subprocess.run([vibeec, mpath, "-o", so, "--stats"], capture_output=True, text=True)
if st.returncode:
	print("vibeec failed:", st.stderr)
	sys.exit(1)
km = re.search(r"(\d+) kernels \((\d+) loop, (\d+) library, (\d+) reference calls\)",
	st.stdout + st.stderr)
if not km:
	print("no kernel count in --stats:", st.stdout, st.stderr)
	sys.exit(1)
nk, nloop, nlib, ncall = map(int, km.groups())
ir = subprocess.run([vibeec, mpath, "--emit=ir", "-o", "-"], capture_output=True, text=True)
names = set(re.findall(r'@"([^"]*)"', ir.stdout))
fails = 0


def fail(msg):
	global fails
	fails += 1
	print("FAIL:", msg)


def check(args, env, bench):
	r = subprocess.run([vrun, so, "--data", data, "--threads", "2", "--bench", str(bench)] + args,
		capture_output=True, text=True, env=env)
	if r.returncode:
		fail("vibee-run %s exited %d: %s" % (args, r.returncode, r.stderr))
		return
	lines = r.stderr.splitlines()
	head = [i for i, l in enumerate(lines) if l.startswith("vibee profile:")]
	if len(head) != 1:
		fail("%s: expected one profile header, got %d:\n%s" % (args, len(head), r.stderr))
		return
	runs = 1 + 2 + bench   # the checked run, two warm-ups, the timed runs
	if ("%d runs" % runs) not in lines[head[0]]:
		fail("%s: header does not count %d runs: %s" % (args, runs, lines[head[0]]))
	rows = lines[head[0] + 2:head[0] + 2 + nk + 1]
	seen, kinds = set(), {"loop": 0, "lib": 0, "call": 0}
	for l in rows:
		c = l.split()
		if len(c) < 11 or not c[0].isdigit():
			continue
		ki, calls, kind, name = int(c[0]), int(c[3]), c[7], c[9]
		if ki in seen:
			fail("kernel %d listed twice" % ki)
		seen.add(ki)
		kinds[kind] = kinds.get(kind, 0) + 1
		if calls != runs:
			fail("kernel %d: %d calls, expected %d" % (ki, calls, runs))
		if name not in names:
			fail("kernel %d: '%s' is not a node of the graph" % (ki, name))
	if seen != set(range(nk)):
		fail("%s: kernels listed %s, expected 0..%d:\n%s" % (args, sorted(seen), nk - 1,
			r.stderr))
	if (kinds["loop"], kinds["lib"], kinds["call"]) != (nloop, nlib, ncall):
		fail("kinds %s, --stats says %d loop, %d lib, %d call" % (kinds, nloop, nlib, ncall))
	print("%s: %d kernels listed (%d loop, %d lib), %d calls each" % (args or "VIBEE_PROFILE=1",
		len(seen), kinds["loop"], kinds["lib"], runs))


env = dict(os.environ)
env.pop("VIBEE_PROFILE", None)
if nloop < 1 or nlib < 1:
	fail("the model should have loop and library kernels: %s" % km.group(0))
check(["--profile"], env, 5)
check([], dict(env, VIBEE_PROFILE="1"), 3)
for e in (env, dict(env, VIBEE_PROFILE="0")):
	r = subprocess.run([vrun, so, "--data", data, "--bench", "2"], capture_output=True, text=True,
		env=e)
	if r.returncode or "vibee profile" in r.stderr:
		fail("profiling off (VIBEE_PROFILE=%s): rc %d, stderr %r" % (e.get("VIBEE_PROFILE"),
			r.returncode, r.stderr))


# The pool's size: --threads, else VIBEE_THREADS (1..256), else the CPUs this
# process may run on (its affinity mask); VIBEE_SPIN_US changes only timing.
def threads_of(args, env, preexec=None):
	r = subprocess.run([vrun, so, "--data", data, "--bench", "1", "--profile"] + args,
		capture_output=True, text=True, env=env, preexec_fn=preexec)
	m = re.search(r"\d+ runs, (\d+) threads", r.stderr)
	b = re.search(r"runs 1 threads (\d+)", r.stdout)
	if r.returncode or not m or not b:
		fail("%s %s: rc %d, no thread count:\n%s%s" % (args, env.get("VIBEE_THREADS"),
			r.returncode, r.stdout, r.stderr))
		return -1
	if m.group(1) != b.group(1):
		fail("%s: the pool has %s threads, vibee-run says %s" % (args, m.group(1), b.group(1)))
	return int(m.group(1))


cpus = sorted(os.sched_getaffinity(0))
for args, extra, want in (([], {"VIBEE_THREADS": "1"}, 1), ([], {"VIBEE_THREADS": "3"}, 3),
		(["--threads", "2"], {"VIBEE_THREADS": "1"}, 2), ([], {"VIBEE_THREADS": "0"}, len(cpus)),
		([], {"VIBEE_THREADS": "2x"}, len(cpus)), ([], {"VIBEE_THREADS": "999"}, len(cpus)),
		([], {"VIBEE_SPIN_US": "0", "VIBEE_THREADS": "2"}, 2),
		([], {"VIBEE_SPIN_US": "-5", "VIBEE_THREADS": "2"}, 2)):
	got = threads_of(args, dict(env, **extra))
	if got != want:
		fail("%s %s: %d threads, expected %d" % (args, extra, got, want))
got = threads_of([], env, lambda: os.sched_setaffinity(0, cpus[:1]))
if got != 1:
	fail("one CPU in the affinity mask: %d threads, expected 1" % got)
print("thread counts from --threads, VIBEE_THREADS and the affinity mask: ok")
sys.exit(1 if fails else 0)
