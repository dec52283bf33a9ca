#!/usr/bin/env bash
# Run lake-check on a Delta table on local disk, building it first if needed
# (build.sh -q: silent when up to date; when it builds, its one line goes to
# stderr, so stdout is only the checker's JSON).
#   run.sh <table-path> [--version N] [--debug]
# Exit codes are LakeCheck's: 0 ok, 2 not a Delta table, 64 bad arguments, 1 other.
# CDCV_LAKE_CHECK_HEAP overrides the heap flags (default -Xms32m -Xmx512m).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
: "${CDCV_STACK_DIR:=$repo/.stack}"
export CDCV_STACK_DIR
out="$CDCV_STACK_DIR/lake-check"
bash "$here/build.sh" -q >&2
# Fast start for a short-lived JVM: C1 only, serial GC, class data sharing on.
# shellcheck disable=SC2086  # the heap setting is a list of flags
exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto ${CDCV_LAKE_CHECK_HEAP:--Xms32m -Xmx512m} \
  -cp "$out/classes:$out/lib/*" dev.cdcviews.lakecheck.LakeCheck "$@"
