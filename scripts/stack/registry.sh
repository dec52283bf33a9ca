#!/usr/bin/env bash
# The local stack's schema registry: Apicurio Registry (Maven Central, Java 17)
# with its Confluent-compatible API at http://localhost:$CDCV_REGISTRY_PORT/apis/ccompat/v7,
# and Apicurio's Kafka Connect AvroConverter as a Connect plugin
# ($CDCV_STACK_DIR/plugins/apicurio-registry-converter). Versions: registry-pom.xml.
#
#   registry.sh fetch   download the registry and the converter plugin when missing
#   registry.sh start   fetch, then start the registry unless it runs; wait until ready
#   registry.sh stop    stop the registry started by start (SIGTERM, SIGKILL after 30 s)
#   registry.sh status  one line; exit 0 when it answers
#
# Storage: an H2 database file under $CDCV_STACK_DIR/registry/data, so schema
# ids survive a registry restart (Debezium's converter caches the ids it got;
# an in-memory registry would forget them and every later record would name an
# unknown id). down.sh --purge deletes it together with Kafka's data.
# Called by up.sh, down.sh and status.sh; failures are one line naming the fix.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/env.sh"

pom="$here/registry-pom.xml"
version="$(sed -n 's:.*<apicurio.version>\(.*\)</apicurio.version>.*:\1:p' "$pom")"
app_dir="$CDCV_STACK_DIR/registry/app"
data_dir="$CDCV_STACK_DIR/registry/data"
plugin="$CDCV_PLUGIN_DIR/apicurio-registry-converter"
runner="$app_dir/apicurio-registry-app-$version-runner.jar"
log="$CDCV_LOG_DIR/registry.log"
base="http://localhost:$CDCV_REGISTRY_PORT"
marker="$CDCV_STACK_DIR/registry/jars.version"
want="apicurio=$version pom=$(sha256sum "$pom" | cut -c1-16)"

ready() { curl -fsS --max-time 3 -o /dev/null "$base/apis/ccompat/v7/subjects" 2>/dev/null; }

fetch() {
  # The plugin dir is checked as well: fetch-jars.sh replaces plugins/ when pom.xml changes.
  if [[ -f $marker && "$(cat "$marker")" == "$want" && -f $runner && -f $plugin/connect-plugin-path-shim-1.0.0.jar ]]; then
    return 0
  fi
  command -v mvn >/dev/null || cdcv_die "mvn not found (needed once to download Apicurio Registry): apt-get install maven"
  mkdir -p "$CDCV_LOG_DIR" "$CDCV_STACK_DIR/registry"
  local mlog="$CDCV_LOG_DIR/maven-registry.log" work="$CDCV_STACK_DIR/registry/maven" rc=0
  cdcv_log "fetching Apicurio Registry $version and its Kafka Connect converter from Maven Central (log: $(cdcv_rel "$mlog"))"
  rm -rf "$work" && mkdir -p "$work"
  cp "$pom" "$work/pom.xml"
  {
    mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$work/plugin" &&
    mvn -B -q -f "$work/pom.xml" dependency:unpack@registry-app -DoutputDirectory="$work/app" &&
    # Connect runs with plugin.discovery=service_load (env.sh): the converter jar has no
    # META-INF/services manifest, so Kafka's own tool (KIP-898) adds one as a shim jar.
    timeout 120 java -Xmx256m -Dlog4j.configuration="file:$here/tools-log4j.properties" -cp "$CDCV_LIB_DIR/*" \
      org.apache.kafka.tools.ConnectPluginPath sync-manifests --plugin-location "$work/plugin"
  } >"$mlog" 2>&1 || rc=$?
  if (( rc != 0 )) || [[ ! -f $work/app/apicurio-registry-app-$version-runner.jar || ! -f $work/plugin/connect-plugin-path-shim-1.0.0.jar ]]; then
    cdcv_die "cannot download Apicurio Registry $version / its converter from Maven Central (exit $rc, see $(cdcv_rel "$mlog")); check access to Maven Central"
  fi
  rm -rf "$app_dir" "$plugin"
  mkdir -p "$CDCV_PLUGIN_DIR"
  mv "$work/app" "$app_dir"
  mv "$work/plugin" "$plugin"
  rm -rf "$work"
  echo "$want" >"$marker"
  cdcv_log "Apicurio Registry $version in $(cdcv_rel "$app_dir"), converter plugin in $(cdcv_rel "$plugin") (Kafka Connect loads it on its next start)"
}

# Prints the stack summary line (up.sh collects it).
start() {
  fetch >&2
  local pid status
  if pid="$(cdcv_our_pid registry "$runner")"; then
    status="up (pid $pid)"
  else
    if cdcv_port_open 127.0.0.1 "$CDCV_REGISTRY_PORT"; then
      local owner; owner="$(cdcv_port_owner "$CDCV_REGISTRY_PORT")"
      cdcv_die "port $CDCV_REGISTRY_PORT (schema registry) is already taken by ${owner:-another process}; stop it or set CDCV_REGISTRY_PORT to a free port"
    fi
    mkdir -p "$data_dir" "$CDCV_RUN_DIR" "$CDCV_LOG_DIR"
    echo "===== $(date -Is) starting registry (scripts/stack/registry.sh) =====" >>"$log"
    # Own session, like the other JVMs of the stack (Ctrl-C in npm does not stop it).
    REGISTRY_DATASOURCE_URL="jdbc:h2:file:$data_dir/registry_db" \
      setsid nohup java -Xms64m -Xmx384m -XX:+UseSerialGC -Djava.awt.headless=true \
      -Dquarkus.http.port="$CDCV_REGISTRY_PORT" -jar "$runner" >>"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$CDCV_RUN_DIR/registry.pid"
    status="up (started, pid $pid)"
  fi
  local deadline=$((SECONDS + CDCV_STACK_TIMEOUT_S))
  until ready; do
    kill -0 "$pid" 2>/dev/null ||
      cdcv_die "schema registry exited during start-up ($(grep -E 'ERROR|Exception' "$log" | tail -n1 | cut -c1-300)); see $(cdcv_rel "$log")"
    (( SECONDS < deadline )) || cdcv_die "schema registry not ready at $base within ${CDCV_STACK_TIMEOUT_S}s; see $(cdcv_rel "$log")"
    sleep 0.5
  done
  printf '%-9s %-28s %s' registry "$base" "$status, Apicurio $version, API /apis/ccompat/v7"
}

stop() { cdcv_stop registry "$runner"; }

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status)
    if ready; then
      pid_note=""; pid="$(cdcv_our_pid registry "$runner")" && pid_note=" (pid $pid)"
      printf '%-9s %-28s %s\n' registry "$base" "up$pid_note, Apicurio $version, ccompat /apis/ccompat/v7"
    else
      printf '%-9s %-28s %s\n' registry "$base" "DOWN: not answering"; exit 1
    fi ;;
  *) cdcv_die "usage: registry.sh fetch|start|stop|status" ;;
esac
