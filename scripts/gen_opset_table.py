#!/usr/bin/env python3
"""Generate frontend/onnx_opset_table.h: for every ONNX op of ir/ops.def, each
version the op got after opset 17, and whether vibeec runs it. vibeec's
kernels follow the ONNX 1.12 specs (opsets <= 17). A later version whose
signature (attribute names and defaults, inputs and outputs with their
optionality) equals the one vibeec implements only widened the type
constraints (bf16, float8, int4, ...): it is accepted, and dtypes the
kernels lack are refused elsewhere. Any other later version is refused at
load time with what changed, unless SUPPORTED below says vibeec implements
it (checked by the conformance suites).

usage: gen_opset_table.py [OUT.h]      (needs python onnx)
"""
import os, re, sys
import onnx
from onnx import defs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = 17                 # the newest opset whose specs the kernels follow

# (op, since_version): later versions vibeec implements although their
# signature differs from the opset-17 one.
SUPPORTED = {}
for _op in ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
            "ReduceMin", "ReduceProd", "ReduceSumSquare"):
    for _v in (18, 20):
        SUPPORTED[(_op, _v)] = "axes as input (as ReduceSum-13)"
for _v in (19, 21, 23, 24, 25, 28):
    for _op in ("Cast", "CastLike"):
        SUPPORTED[(_op, _v)] = "saturate/round_mode only concern float8/float4 types, refused"
SUPPORTED[("Split", 18)] = "num_outputs"
for _v in (18, 19, 21, 23, 24, 25):
    SUPPORTED[("Pad", _v)] = "axes input, wrap mode"
SUPPORTED[("Resize", 18)] = "antialias, axes, keep_aspect_ratio_policy"
SUPPORTED[("Resize", 19)] = "antialias, axes, keep_aspect_ratio_policy, half_pixel_symmetric"
for _v in (19, 22):
    SUPPORTED[("AveragePool", _v)] = "dilations"
for _v in (18, 22):
    SUPPORTED[("LpPool", _v)] = "ceil_mode, dilations"
SUPPORTED[("GroupNormalization", 21)] = "per-channel scale and bias, stash_type"
for _v in (20, 22):
    SUPPORTED[("GridSample", _v)] = "linear/cubic mode names, N-d"
SUPPORTED[("QuantizeLinear", 19)] = "saturate only concerns float8 types, refused"
SUPPORTED[("DFT", 20)] = "axis as input"

# (op, since_version): later versions accepted when the node leaves the
# listed new attributes absent or at the value of the behaviour vibeec has.
CONDITIONAL = {}
for _v in (21, 23, 24, 25, 28):
    CONDITIONAL[("QuantizeLinear", _v)] = "block_size=0,output_dtype=0,precision=0"
    CONDITIONAL[("DequantizeLinear", _v)] = "block_size=0,output_dtype=0"
CONDITIONAL[("Range", 27)] = "stash_type=1"
CONDITIONAL[("SpaceToDepth", 28)] = "mode=DCR"

def ops_of_table():
    names = []
    for line in open(os.path.join(ROOT, "ir", "ops.def")):
        m = re.match(r"OP\((\w+),", line)
        if m and m.group(1)[0].isupper():
            names.append(m.group(1))
    return names

def versions(op, top):
    vs = []
    for v in range(1, top + 1):
        try:
            s = defs.get_schema(op, v, "")
        except Exception:
            continue
        if s.since_version not in vs:
            vs.append(s.since_version)
    return vs

def signature(s):
    attrs = {}
    for name, a in s.attributes.items():
        dv = a.default_value.SerializeToString() if a.default_value.name else b""
        attrs[name] = (dv, a.required)
    ins = [(i.name, int(i.option)) for i in s.inputs]
    outs = [(o.name, int(o.option)) for o in s.outputs]
    return attrs, ins, outs

def diff(old, new):
    (oa, oi, oo), (na, ni, no) = old, new
    parts = []
    added = sorted(set(na) - set(oa))
    gone = sorted(set(oa) - set(na))
    changed = sorted(k for k in set(na) & set(oa) if na[k] != oa[k])
    if added:
        parts.append("new attribute%s %s" % ("s" if len(added) > 1 else "",
                                             ", ".join("'%s'" % a for a in added)))
    if gone:
        parts.append("attribute%s %s removed" % ("s" if len(gone) > 1 else "",
                                                ", ".join("'%s'" % a for a in gone)))
    if changed:
        parts.append("default of %s changed" % ", ".join("'%s'" % a for a in changed))
    if oi != ni:
        parts.append("inputs (%s), were (%s)" % (", ".join(n for n, _ in ni),
                                                 ", ".join(n for n, _ in oi)))
    if oo != no:
        parts.append("outputs (%s), were (%s)" % (", ".join(n for n, _ in no),
                                                  ", ".join(n for n, _ in oo)))
    return "; ".join(parts) or "semantics changed"

def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "frontend", "onnx_opset_table.h")
    top = defs.onnx_opset_version()
    rows = []
    for op in ops_of_table():
        vs = versions(op, top)
        if not vs:
            continue
        base = [v for v in vs if v <= BASE]
        bv = base[-1] if base else vs[0]        # ops born after 17: their first version
        bsig = signature(defs.get_schema(op, bv, ""))
        prev = None
        accepted = [bsig]        # signatures of the versions vibeec runs
        for v in vs:
            psig, prev = prev, signature(defs.get_schema(op, v, ""))
            if v <= BASE or v == bv:
                continue
            sig = signature(defs.get_schema(op, v, ""))
            if sig in accepted:
                rows.append((op, v, 1, "types only"))
            elif (op, v) in SUPPORTED:
                rows.append((op, v, 1, SUPPORTED[(op, v)]))
                accepted.append(sig)
            elif (op, v) in CONDITIONAL:
                rows.append((op, v, 2, CONDITIONAL[(op, v)]))
            else:
                # what this version changed (its predecessor, when that one
                # is accepted; else against the version vibeec implements)
                ok_prev = psig is not None and (psig == bsig or rows and rows[-1][:3] == (op, vs[vs.index(v) - 1], 1))
                d = diff(psig, sig) if ok_prev else diff(bsig, sig)
                rows.append((op, v, 0, d if d != "semantics changed" else
                             "semantics changed (same attributes and inputs)"))
    with open(out, "w") as f:
        f.write("/* Generated by scripts/gen_opset_table.py from the schemas of onnx %s\n"
                " * (opsets up to %d). Do not edit. Versions of vibeec's ops after opset %d:\n"
                " * {op, since_version, accepted (1; 2: when the listed attributes are absent or\n"
                " * have the given value), what changed}. */\n" % (onnx.__version__, top, BASE))
        f.write("#define ONNX_OPSET_BASE %d\n#define ONNX_OPSET_KNOWN %d\n" % (BASE, top))
        f.write("static const struct { const char *op; int since; int ok; const char *what; }\n"
                "onnx_opset_changes[] = {\n")
        for op, v, ok, what in rows:
            f.write('\t{"%s", %d, %d, "%s"},\n' % (op, v, ok, what.replace('"', "'")))
        f.write("};\n")
    print("%d later versions of %d ops written to %s" % (len(rows), len(set(r[0] for r in rows)), out))

if __name__ == "__main__":
    main()
