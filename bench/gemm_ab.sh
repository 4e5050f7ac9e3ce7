#!/bin/sh
# A/B of kgemm variants on a shared (noisy) machine: runs gemm_bench once per
# variant, ITER times round-robin, and prints the median / best / min of the
# pre-packed column per variant, shape and thread count.
# A variant is a comma-separated list of environment settings (KG_PREFETCH=0,
# KG_PPT=4, KG_KC=576, ...; "-" for none), optionally prefixed by a gemm_bench
# binary and '@' (e.g. /tmp/base/gemm_bench@- for an old build).
# usage: bench/gemm_ab.sh ITER THREADS "VARIANT ..." [gemm_bench options and shapes]
# env: GEMM_BENCH (default build/gemm_bench), R (rounds per invocation, 2)
set -e
[ $# -ge 3 ] || { echo "usage: $0 ITER THREADS 'VARIANT ...' [gemm_bench args]" >&2; exit 2; }
it=$1; thr=$2; vars=$3; shift 3
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$it"); do
	for v in $vars; do
		bin=${GEMM_BENCH:-build/gemm_bench}; envs=$v
		case $v in *@*) bin=${v%%@*}; envs=${v#*@};; esac
		[ "$envs" = "-" ] && envs=
		env $(echo "$envs" | tr , ' ') "$bin" -t "$thr" -r "${R:-2}" "$@" |
			awk -v c="$v" 'NR > 2 && $2 ~ /^[0-9]+$/ { print c "|" $1 "|" $2, $4 }' >> "$out"
	done
done
python3 - "$out" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    k, v = line.split()
    d[k].append(float(v))
for k in sorted(d, key=lambda k: (k.split('|')[1], int(k.split('|')[2]), k)):
    v = d[k]
    print(f"{k:48s} median {statistics.median(v):6.1f} best {max(v):6.1f} min {min(v):6.1f} n {len(v)}")
PY
