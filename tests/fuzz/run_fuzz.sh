#!/bin/sh
# Run one libFuzzer harness for a bounded time on its seed corpus (made by
# make_seeds.py on first use) plus the corpus it grew in earlier runs.
# Usage: run_fuzz.sh HARNESS_BINARY NAME WORKDIR SECONDS [extra libFuzzer flags]
# Exit 0: no finding; otherwise the crash input is WORKDIR/NAME-crash-*.
set -u
BIN=${1:?usage: run_fuzz.sh BINARY NAME WORKDIR SECONDS}
NAME=${2:?}
WORK=${3:?}
SECS=${4:?}
shift 4
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK/seeds-$NAME" "$WORK/corpus-$NAME"
if [ -z "$(ls -A "$WORK/seeds-$NAME")" ]; then
	VIBEEC=$(dirname "$BIN")/../../vibeec
	[ -x "$VIBEEC" ] || VIBEEC=$(dirname "$BIN")/../vibeec
	if [ -x "$VIBEEC" ]; then
		python3 "$HERE/make_seeds.py" "$NAME" "$WORK/seeds-$NAME" --vibeec "$VIBEEC" || exit 1
	else
		python3 "$HERE/make_seeds.py" "$NAME" "$WORK/seeds-$NAME" || exit 1
	fi
fi
# leaks are findings; a model may not make the compiler use 2 GB or 10 s
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export ASAN_OPTIONS
exec "$BIN" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
	-malloc_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="$WORK/$NAME-" "$@" \
	"$WORK/corpus-$NAME" "$WORK/seeds-$NAME"
