#!/usr/bin/env bash
# Fetch the pinned Kafka and Debezium jars (scripts/stack/pom.xml) into
# $CDCV_STACK_DIR/lib and $CDCV_STACK_DIR/plugins, only when they are missing or
# the pom changed. A marker file records what is there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

here="$CDCV_REPO_ROOT/scripts/stack"
pom="$here/pom.xml"
kafka_v="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
debezium_v="$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$pom")"
# The pom's checksum is in the marker too, so any edit (versions, new artifact) refetches.
want="kafka=$kafka_v debezium=$debezium_v pom=$(sha256sum "$pom" | cut -c1-16)"
marker="$CDCV_STACK_DIR/jars.version"

if [[ -f $marker && "$(cat "$marker")" == "$want" && -d $CDCV_LIB_DIR && -d $CDCV_PLUGIN_DIR/debezium-connector-postgres ]]; then
  exit 0
fi

command -v mvn >/dev/null || cdcv_die "mvn not found: install Maven (apt-get install maven) or set CDCV_STACK_DIR to a folder with lib/ and plugins/ prepared"

mkdir -p "$CDCV_LOG_DIR"
log="$CDCV_LOG_DIR/maven.log"
cdcv_log "fetching Kafka $kafka_v and Debezium $debezium_v jars from Maven Central (log: $(cdcv_rel "$log"))"

# Build in a scratch copy of the pom so Maven's target/ lands in the stack dir,
# not in the source tree, and download into fresh folders so a failed fetch
# never leaves a half-filled lib/ behind.
work="$CDCV_STACK_DIR/maven"
rm -rf "$work" && mkdir -p "$work"
cp "$pom" "$work/pom.xml"
rc=0
{
  mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies -DoutputDirectory="$work/lib" &&
  mvn -B -q -f "$work/pom.xml" dependency:unpack@debezium-plugin -DoutputDirectory="$work/plugins"
} >"$log" 2>&1 || rc=$?
if (( rc != 0 )) || [[ ! -d $work/plugins/debezium-connector-postgres ]]; then
  (( rc != 0 )) || rc=1
  cdcv_die "cannot download Kafka/Debezium jars from Maven Central (mvn exited $rc, see $(cdcv_rel "$log")); check network access to Maven Central or set CDCV_STACK_DIR to a prepared folder"
fi

rm -rf "$CDCV_LIB_DIR" "$CDCV_PLUGIN_DIR"
mv "$work/lib" "$CDCV_LIB_DIR"
mv "$work/plugins" "$CDCV_PLUGIN_DIR"
rm -rf "$work"
echo "$want" >"$marker"
cdcv_log "jars ready: $(find "$CDCV_LIB_DIR" -name "*.jar" | wc -l) in $(cdcv_rel "$CDCV_LIB_DIR"), Debezium plugin in $(cdcv_rel "$CDCV_PLUGIN_DIR")"
