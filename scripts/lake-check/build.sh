#!/usr/bin/env bash
# Build lake-check (pom.xml + LakeCheck.java here: an independent Delta Lake
# reader on Delta Kernel, for the lake sink's tests) into
# $CDCV_STACK_DIR/lake-check/ (default <repo>/.stack, git-ignored):
#   lib/      the runtime jars, by `mvn dependency:copy-dependencies`
#             (redone only when pom.xml changes: lib.sha256 holds its sha256)
#   classes/  LakeCheck compiled by javac --release 17
#             (redone only when the source or the jars change: classes.sha256)
# Prints one line (stdout; with -q nothing when up to date); fails with one line (stderr) naming the fix. Safe to
# run concurrently (flock). Maven's log: $CDCV_STACK_DIR/logs/maven-lake-check.log.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
: "${CDCV_STACK_DIR:=$repo/.stack}"
out="$CDCV_STACK_DIR/lake-check"
pom="$here/pom.xml"
src="$here/src/main/java/dev/cdcviews/lakecheck/LakeCheck.java"
quiet=0
[[ ${1:-} == -q ]] && quiet=1
die() { echo "lake-check build: $*" >&2; exit 1; }

mkdir -p "$out" "$CDCV_STACK_DIR/logs"
exec 9>"$out/.lock"
flock 9

pom_sum="$(sha256sum "$pom" | cut -d' ' -f1)"
src_sum="$(cat "$src" "$pom" | sha256sum | cut -d' ' -f1)"
if [[ -f $out/lib.sha256 && "$(cat "$out/lib.sha256")" == "$pom_sum" &&
      -f $out/classes.sha256 && "$(cat "$out/classes.sha256")" == "$src_sum" ]]; then
  (( quiet )) || echo "lake-check: up to date in $out"
  exit 0
fi

command -v javac >/dev/null || die "javac not found: install a JDK 17+ (apt-get install openjdk-17-jdk-headless)"
major="$(javac -version 2>&1 | sed -n 's/^javac \([0-9]*\).*/\1/p' | head -n1)"
(( ${major:-0} >= 17 )) || die "javac ${major:-?} found, lake-check needs JDK 17+: install openjdk-17-jdk-headless"
start=$SECONDS

if [[ ! -f $out/lib.sha256 || "$(cat "$out/lib.sha256")" != "$pom_sum" ]]; then
  command -v mvn >/dev/null || die "mvn not found (needed once to download Delta Kernel): install Maven (apt-get install maven)"
  log="$CDCV_STACK_DIR/logs/maven-lake-check.log"
  # A scratch copy of the pom, so nothing Maven writes lands in the source tree,
  # and a fresh folder, so a failed download never leaves a half-filled lib/.
  work="$out/maven"
  rm -rf "$work" && mkdir -p "$work"
  cp "$pom" "$work/pom.xml"
  mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies -DoutputDirectory="$work/lib" >"$log" 2>&1 ||
    die "mvn could not fetch Delta Kernel's jars (see $log): check access to Maven Central"
  rm -rf "$out/lib" "$out/classes.sha256"
  mv "$work/lib" "$out/lib"
  rm -rf "$work"
  echo "$pom_sum" >"$out/lib.sha256"
fi

rm -rf "$out/classes.tmp"
mkdir -p "$out/classes.tmp"
javac -nowarn --release 17 -encoding UTF-8 -cp "$out/lib/*" -d "$out/classes.tmp" "$src" >"$CDCV_STACK_DIR/logs/javac-lake-check.log" 2>&1 ||
  die "javac failed on LakeCheck.java (see $CDCV_STACK_DIR/logs/javac-lake-check.log)"
rm -rf "$out/classes"
mv "$out/classes.tmp" "$out/classes"
echo "$src_sum" >"$out/classes.sha256"
echo "lake-check: built in $out ($((SECONDS - start)) s)"
