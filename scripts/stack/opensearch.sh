#!/usr/bin/env bash
# OpenSearch, the search-index sink's store, for the local stack (no Docker):
# the integ-test zip from Maven Central (no bundled JDK, no security plugin),
# fetched by fetch-jars.sh, run on the machine's Java as one single-node cluster.
#   opensearch.sh start    start it unless it runs, then wait for yellow health
#   opensearch.sh stop     SIGTERM, SIGKILL after 30 s
#   opensearch.sh status   one line; exit 0 when it answers
# Called by up.sh, down.sh and status.sh. Data in $CDCV_STACK_DIR/opensearch,
# logs in $CDCV_STACK_DIR/logs (opensearch.log = stdout; opensearch/ = its own
# logs). Settings (env.sh): CDCV_OPENSEARCH_PORT, CDCV_OPENSEARCH_HEAP,
# CDCV_OPENSEARCH_USER, CDCV_STACK_TIMEOUT_S.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/env.sh"

main_class=org.opensearch.bootstrap.OpenSearch
version="$(sed -n 's:.*<opensearch.version>\(.*\)</opensearch.version>.*:\1:p' "$here/pom.xml")"
home="$CDCV_OPENSEARCH_DIST_DIR/opensearch-$version"
url="http://localhost:$CDCV_OPENSEARCH_PORT"
log="$CDCV_LOG_DIR/opensearch.log"

# Cluster health as one word (green/yellow/red), or nothing when it does not answer.
health() {
  curl -fsS --max-time 5 "$CDCV_OPENSEARCH_URL/_cluster/health" 2>/dev/null | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p'
}

start() {
  local pid status
  mkdir -p "$CDCV_LOG_DIR" "$CDCV_RUN_DIR"
  if pid="$(cdcv_our_pid opensearch "$main_class")"; then
    status="up (pid $pid)"
  else
    command -v java >/dev/null || cdcv_die "java not found (OpenSearch needs Java 11+): apt-get install openjdk-17-jre-headless"
    command -v curl >/dev/null || cdcv_die "curl not found (needed to check OpenSearch): apt-get install curl"
    bash "$here/fetch-jars.sh"
    if cdcv_port_open 127.0.0.1 "$CDCV_OPENSEARCH_PORT" || cdcv_port_open ::1 "$CDCV_OPENSEARCH_PORT"; then
      local owner; owner="$(cdcv_port_owner "$CDCV_OPENSEARCH_PORT")"
      cdcv_die "port $CDCV_OPENSEARCH_PORT (OpenSearch) is already taken by ${owner:-another process}; stop it or set CDCV_OPENSEARCH_PORT to a free port"
    fi
    local java_home run_as=()
    java_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
    # OpenSearch refuses to run as root ("can not run opensearch as root") and
    # has no override: drop to an unprivileged user. setpriv execs (no fork), so
    # $! below stays the JVM's pid.
    if (( EUID == 0 )); then
      id "$CDCV_OPENSEARCH_USER" >/dev/null 2>&1 || cdcv_die "user $CDCV_OPENSEARCH_USER (CDCV_OPENSEARCH_USER) does not exist; OpenSearch cannot run as root, set CDCV_OPENSEARCH_USER to an unprivileged user"
      run_as=(setpriv --reuid="$CDCV_OPENSEARCH_USER" --regid="$(id -g "$CDCV_OPENSEARCH_USER")" --clear-groups --)
    fi
    # A private copy of the config: OpenSearch writes its keystore there on first
    # start, and jvm.options' paths relative to the distribution (gc.log, heap
    # dumps, hs_err files) are pointed into the stack dir.
    local logs="$CDCV_LOG_DIR/opensearch"
    mkdir -p "$CDCV_OPENSEARCH_DIR/data" "$CDCV_OPENSEARCH_DIR/tmp" "$logs"
    [[ -d $CDCV_OPENSEARCH_DIR/config ]] || cp -r "$home/config" "$CDCV_OPENSEARCH_DIR/config"
    sed -e "s|file=logs/|file=$logs/|; s|HeapDumpPath=data|HeapDumpPath=$CDCV_OPENSEARCH_DIR/data|; s|ErrorFile=logs/|ErrorFile=$logs/|" \
      "$home/config/jvm.options" >"$CDCV_OPENSEARCH_DIR/config/jvm.options"
    if (( EUID == 0 )); then
      chown -R "$CDCV_OPENSEARCH_USER:" "$CDCV_OPENSEARCH_DIR" "$CDCV_LOG_DIR/opensearch"
    fi
    [[ -f $log ]] && (( $(stat -c %s "$log") > 50 * 1024 * 1024 )) && mv -f "$log" "$log.1"
    echo "===== $(date -Is) starting opensearch $version (scripts/stack/opensearch.sh) =====" >>"$log"
    # Single-node discovery: no cluster formation, and bootstrap checks (e.g.
    # vm.max_map_count >= 262144) stay warnings since HTTP/transport bind to
    # loopback only. Disk watermarks off: a full-ish dev disk must not turn
    # indices read-only.
    (
      export OPENSEARCH_JAVA_HOME="$java_home" JAVA_HOME="$java_home" OPENSEARCH_JAVA_OPTS="$CDCV_OPENSEARCH_HEAP"
      export OPENSEARCH_PATH_CONF="$CDCV_OPENSEARCH_DIR/config" OPENSEARCH_TMPDIR="$CDCV_OPENSEARCH_DIR/tmp"
      setsid nohup "${run_as[@]}" "$home/bin/opensearch" \
        -Ediscovery.type=single-node -Ecluster.name=cdcv-local -Enode.name=cdcv-local \
        -Ehttp.port="$CDCV_OPENSEARCH_PORT" \
        -Epath.data="$CDCV_OPENSEARCH_DIR/data" -Epath.logs="$logs" \
        -Ecluster.routing.allocation.disk.threshold_enabled=false \
        >>"$log" 2>&1 </dev/null &
      echo $! >"$CDCV_RUN_DIR/opensearch.pid"
    )
    pid="$(cat "$CDCV_RUN_DIR/opensearch.pid")"
    status="up (started, pid $pid)"
  fi
  # Ready = the node answers and its cluster is at least yellow (all primaries allocated).
  local started=$SECONDS deadline=$((SECONDS + CDCV_STACK_TIMEOUT_S))
  until curl -fsS --max-time 5 "$url/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null | grep -q '"timed_out":false'; do
    if ! kill -0 "$pid" 2>/dev/null; then
      local cause; cause="$(grep -E 'ERROR|Exception|Error:|error' "$log" 2>/dev/null | tail -n1 | cut -c1-300)"
      cdcv_die "OpenSearch exited during start-up (${cause:-no error logged}); see $(cdcv_rel "$log") and $(cdcv_rel "$CDCV_LOG_DIR/opensearch")"
    fi
    (( SECONDS < deadline )) || cdcv_die "OpenSearch not ready (yellow) at $url within ${CDCV_STACK_TIMEOUT_S}s (raise CDCV_STACK_TIMEOUT_S?); see $(cdcv_rel "$log")"
    sleep 1
  done
  [[ $status == *started* ]] && status="$status, ready in $((SECONDS - started))s"
  printf '%-9s %-28s %s\n' opensearch "$url" "$status $version"
}

stop() { cdcv_stop opensearch "$main_class"; }

status() {
  local h pid_note="" pid
  pid="$(cdcv_our_pid opensearch "$main_class")" && pid_note="pid $pid, "
  h="$(health)" || true   # curl fails (pipefail) when nothing answers: report it, do not exit
  if [[ $h == green || $h == yellow ]]; then
    printf '%-9s %-28s %s\n' opensearch "$CDCV_OPENSEARCH_URL" "up (${pid_note}cluster $h)"
  elif [[ -n $h ]]; then
    printf '%-9s %-28s %s\n' opensearch "$CDCV_OPENSEARCH_URL" "DOWN: cluster $h"; return 1
  else
    printf '%-9s %-28s %s\n' opensearch "$CDCV_OPENSEARCH_URL" "DOWN: not answering"; return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) cdcv_die "usage: opensearch.sh start|stop|status" ;;
esac
