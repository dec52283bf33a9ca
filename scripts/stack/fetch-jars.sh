#!/usr/bin/env bash
# Fetch the pinned Kafka and Debezium jars (scripts/stack/pom.xml) into
# $CDCV_STACK_DIR/lib and $CDCV_STACK_DIR/plugins, only when they are missing or
# the pom changed (a marker file records what is there), and the OpenSearch
# distribution into $CDCV_STACK_DIR/opensearch-dist.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

here="$CDCV_REPO_ROOT/scripts/stack"
pom="$here/pom.xml"
kafka_v="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
debezium_v="$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$pom")"
# The pom's checksum is in the marker too, so any edit (versions, new artifact) refetches.
want="kafka=$kafka_v debezium=$debezium_v pom=$(sha256sum "$pom" | cut -c1-16)"
marker="$CDCV_STACK_DIR/jars.version"

# OpenSearch (the search-index sink's store): the integ-test zip unpacked into
# opensearch-dist/, fetched only when missing or its version changed.
opensearch_v="$(sed -n 's:.*<opensearch.version>\(.*\)</opensearch.version>.*:\1:p' "$pom")"
if [[ ! -x $CDCV_OPENSEARCH_DIST_DIR/opensearch-$opensearch_v/bin/opensearch ]]; then
  command -v mvn >/dev/null || cdcv_die "mvn not found: install Maven (apt-get install maven) to download OpenSearch, or set CDCV_STACK_DIR to a folder with opensearch-dist/ prepared"
  mkdir -p "$CDCV_LOG_DIR"
  cdcv_log "fetching OpenSearch $opensearch_v from Maven Central (log: $(cdcv_rel "$CDCV_LOG_DIR/maven-opensearch.log"))"
  os_work="$CDCV_STACK_DIR/maven-opensearch"
  rm -rf "$os_work" && mkdir -p "$os_work"
  cp "$pom" "$os_work/pom.xml"
  if ! mvn -B -q -f "$os_work/pom.xml" dependency:unpack@opensearch-dist -DoutputDirectory="$os_work/dist" \
         >"$CDCV_LOG_DIR/maven-opensearch.log" 2>&1 || [[ ! -x $os_work/dist/opensearch-$opensearch_v/bin/opensearch ]]; then
    cdcv_die "cannot download OpenSearch $opensearch_v from Maven Central (see $(cdcv_rel "$CDCV_LOG_DIR/maven-opensearch.log")); check network access to Maven Central"
  fi
  rm -rf "$CDCV_OPENSEARCH_DIST_DIR"
  mv "$os_work/dist" "$CDCV_OPENSEARCH_DIST_DIR"
  rm -rf "$os_work"
  cdcv_log "OpenSearch $opensearch_v ready in $(cdcv_rel "$CDCV_OPENSEARCH_DIST_DIR")"
fi

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
