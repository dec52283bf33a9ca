#!/usr/bin/env bash
# A second OpenSearch node WITH the security plugin, for the tests that need a
# secured search engine: HTTPS and basic auth on https://127.0.0.1:$CDCV_OPENSEARCH_SECURE_PORT.
# Version in opensearch-secure-pom.xml (2.19.4: the newest whose security plugin
# is on Maven Central), configured once by the plugin's install_demo_configuration.sh
# (demo TLS certificates and users; admin's password from
# CDCV_OPENSEARCH_SECURE_ADMIN_PASSWORD). NOT started by up.sh.
#   opensearch-secure.sh start    fetch and install on first use, start unless it runs,
#                                 wait for yellow health; prints the URL, the CA file
#                                 and the admin credentials file
#   opensearch-secure.sh stop     SIGTERM, SIGKILL after 30 s (down.sh calls it)
#   opensearch-secure.sh status   one line; exit 0 when it answers (status.sh calls it)
#   opensearch-secure.sh set-password <user> <password>
#                                 change an internal user's password at run time (security
#                                 REST API, authenticated by the demo admin certificate, so
#                                 it works whatever the passwords are); takes effect at once
# Files in $CDCV_STACK_DIR/opensearch-secure: opensearch-<version>/ (the distribution
# with the plugin and its config/, certificates included), data/, root-ca.pem (the
# CA to trust), admin.json ({"username":"admin","password":...}: the admin's
# current credentials; set-password keeps it current).
# Logs: opensearch-secure.log and opensearch-secure/ in $CDCV_STACK_DIR/logs.
# Settings (env.sh): CDCV_OPENSEARCH_SECURE_PORT, CDCV_OPENSEARCH_SECURE_TRANSPORT_PORT,
# CDCV_OPENSEARCH_SECURE_HEAP, CDCV_OPENSEARCH_SECURE_ADMIN_PASSWORD, CDCV_OPENSEARCH_USER,
# CDCV_STACK_TIMEOUT_S. Tests find the node through the derived CDCV_OPENSEARCH_SECURE_URL,
# CDCV_OPENSEARCH_SECURE_CA and CDCV_OPENSEARCH_SECURE_CREDENTIALS (env.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/env.sh"

pom="$here/opensearch-secure-pom.xml"
version="$(sed -n 's:.*<opensearch.version>\(.*\)</opensearch.version>.*:\1:p' "$pom")"
node_dir="$CDCV_STACK_DIR/opensearch-secure"
home="$node_dir/opensearch-$version"
conf="$home/config"
marker="$node_dir/installed.version"
ca_file="$node_dir/root-ca.pem"     # a copy of config/root-ca.pem at a path without the version
creds="$node_dir/admin.json"
want="opensearch=$version pom=$(sha256sum "$pom" | cut -c1-16)"
log="$CDCV_LOG_DIR/opensearch-secure.log"
logs="$CDCV_LOG_DIR/opensearch-secure"
url="https://127.0.0.1:$CDCV_OPENSEARCH_SECURE_PORT"
# In the JVM's command line; what cdcv_our_pid checks (the shared node has the same main class).
cluster_flag=-Ecluster.name=cdcv-secure

# curl as the demo admin certificate (CN=kirk, the plugin's admin_dn): a "super
# admin" that passes without a password and may change reserved users.
admin_curl() {
  curl -sS --max-time 10 --cacert "$ca_file" \
    --cert "$conf/kirk.pem" --key "$conf/kirk-key.pem" "$@"
}

java_home() { dirname "$(dirname "$(readlink -f "$(command -v java)")")"; }

install() {
  [[ -f $marker && "$(cat "$marker")" == "$want" && -x $home/bin/opensearch && -f $ca_file ]] && return 0
  command -v mvn >/dev/null || cdcv_die "mvn not found (needed once to download OpenSearch $version and its security plugin): apt-get install maven"
  mkdir -p "$CDCV_LOG_DIR" "$node_dir"
  local ilog="$CDCV_LOG_DIR/opensearch-secure-install.log" work="$node_dir/install" rc=0
  cdcv_log "installing OpenSearch $version with the security plugin (Maven Central; log: $(cdcv_rel "$ilog"))" >&2
  rm -rf "$work" && mkdir -p "$work"
  cp "$pom" "$work/pom.xml"
  {
    mvn -B -q -f "$work/pom.xml" dependency:unpack@dist -DoutputDirectory="$work/dist" &&
    mvn -B -q -f "$work/pom.xml" dependency:copy@security-plugin -DoutputDirectory="$work/plugin"
  } >"$ilog" 2>&1 || rc=$?
  local dist="$work/dist/opensearch-$version" zip="$work/plugin/opensearch-security-$version.0.zip"
  if (( rc != 0 )) || [[ ! -x $dist/bin/opensearch || ! -f $zip ]]; then cdcv_die "cannot download OpenSearch $version / opensearch-security $version.0 from Maven Central (exit $rc, see $(cdcv_rel "$ilog")); check access to Maven Central"; fi
  # The plugin's tools run on the machine's Java; the demo installer writes the
  # certificates and security settings into the distribution's config/.
  local jh; jh="$(java_home)"
  local -a tool_env=(env -u OPENSEARCH_PATH_CONF OPENSEARCH_JAVA_HOME="$jh" JAVA_HOME="$jh")
  rc=0
  {
    "${tool_env[@]}" "$dist/bin/opensearch-plugin" install --batch "file://$zip" &&
    "${tool_env[@]}" OPENSEARCH_INITIAL_ADMIN_PASSWORD="$CDCV_OPENSEARCH_SECURE_ADMIN_PASSWORD" \
      bash "$dist/plugins/opensearch-security/tools/install_demo_configuration.sh" -y -i -s
  } >>"$ilog" 2>&1 || rc=$?
  [[ $rc == 0 && -f $dist/config/root-ca.pem && -f $dist/config/kirk.pem ]] ||
    cdcv_die "installing the security plugin / its demo configuration failed (exit $rc; $(grep -iE 'error|exception|fail|invalid' "$ilog" | tail -n1 | cut -c1-200)); see $(cdcv_rel "$ilog") (a weak CDCV_OPENSEARCH_SECURE_ADMIN_PASSWORD is refused)"
  # jvm.options' paths relative to the distribution (gc.log, heap dumps) go to the stack's logs/data.
  sed -i -e "s|file=logs/|file=$logs/|; s|HeapDumpPath=data|HeapDumpPath=$node_dir/data|; s|ErrorFile=logs/|ErrorFile=$logs/|" \
    "$dist/config/jvm.options"
  # A new install starts from new data: the security index holds the users and password hashes.
  rm -rf "$home" "$node_dir/data"
  mv "$dist" "$home"
  rm -rf "$work"
  cp "$home/config/root-ca.pem" "$ca_file"
  write_credentials admin "$CDCV_OPENSEARCH_SECURE_ADMIN_PASSWORD"
  echo "$want" >"$marker"
  cdcv_log "OpenSearch $version with the security plugin installed in $(cdcv_rel "$home")" >&2
}

# JSON string of $1 (quotes and backslashes escaped; control characters refused).
json_string() {
  [[ $1 != *[[:cntrl:]]* ]] || cdcv_die "a password with control characters is not supported here"
  local v="${1//\\/\\\\}"
  printf '"%s"' "${v//\"/\\\"}"
}

# The admin's current credentials, {"username":..,"password":..}, for tests to read
# (only the owner may).
write_credentials() { # user, password
  (
    umask 077
    printf '{"username":%s,"password":%s}\n' "$(json_string "$1")" "$(json_string "$2")" >"$creds.tmp"
  )
  mv -f "$creds.tmp" "$creds"
}

# Ready = the security plugin has loaded its configuration and the cluster is at least yellow.
ready() {
  curl -sS --max-time 5 --cacert "$ca_file" "$url/_plugins/_security/health" 2>/dev/null | grep -q '"status":"UP"' &&
    admin_curl "$url/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null | grep -q '"timed_out":false'
}

start() {
  local pid status
  mkdir -p "$CDCV_LOG_DIR" "$CDCV_RUN_DIR"
  if pid="$(cdcv_our_pid opensearch-secure "$cluster_flag")"; then
    status="up (pid $pid)"
  else
    command -v java >/dev/null || cdcv_die "java not found (OpenSearch needs Java 11+): apt-get install openjdk-17-jre-headless"
    command -v curl >/dev/null || cdcv_die "curl not found (needed to check OpenSearch): apt-get install curl"
    cdcv_require_free_port "$CDCV_OPENSEARCH_SECURE_PORT" "secured OpenSearch HTTP" CDCV_OPENSEARCH_SECURE_PORT
    cdcv_require_free_port "$CDCV_OPENSEARCH_SECURE_TRANSPORT_PORT" "secured OpenSearch transport" CDCV_OPENSEARCH_SECURE_TRANSPORT_PORT
    install
    local run_as=()
    if (( EUID == 0 )); then
      # OpenSearch refuses to run as root: as opensearch.sh, drop to CDCV_OPENSEARCH_USER
      # (setpriv execs, so $! stays the JVM's pid).
      id "$CDCV_OPENSEARCH_USER" >/dev/null 2>&1 || cdcv_die "user $CDCV_OPENSEARCH_USER (CDCV_OPENSEARCH_USER) does not exist; OpenSearch cannot run as root, set CDCV_OPENSEARCH_USER to an unprivileged user"
      run_as=(setpriv --reuid="$CDCV_OPENSEARCH_USER" --regid="$(id -g "$CDCV_OPENSEARCH_USER")" --clear-groups --)
    fi
    mkdir -p "$node_dir/data" "$node_dir/tmp" "$logs"
    if (( EUID == 0 )); then
      chown -R "$CDCV_OPENSEARCH_USER:" "$home" "$node_dir/data" "$node_dir/tmp" "$logs"
    fi
    [[ -f $log ]] && (( $(stat -c %s "$log") > 50 * 1024 * 1024 )) && mv -f "$log" "$log.1"
    echo "===== $(date -Is) starting secured opensearch $version (scripts/stack/opensearch-secure.sh) =====" >>"$log"
    # As opensearch.sh: one node, loopback only (bootstrap checks stay warnings),
    # no disk watermarks; plus its own ports, and no audit log (it would index every request).
    local jh; jh="$(java_home)"
    # setsid, nohup, setpriv and env all exec: $! is the JVM's pid.
    setsid nohup "${run_as[@]}" env -u OPENSEARCH_PATH_CONF OPENSEARCH_JAVA_HOME="$jh" JAVA_HOME="$jh" \
      OPENSEARCH_JAVA_OPTS="$CDCV_OPENSEARCH_SECURE_HEAP" OPENSEARCH_TMPDIR="$node_dir/tmp" \
      "$home/bin/opensearch" \
      -Ediscovery.type=single-node "$cluster_flag" -Enode.name=cdcv-secure \
      -Enetwork.host=127.0.0.1 -Ehttp.port="$CDCV_OPENSEARCH_SECURE_PORT" \
      -Etransport.port="$CDCV_OPENSEARCH_SECURE_TRANSPORT_PORT" \
      -Epath.data="$node_dir/data" -Epath.logs="$logs" \
      -Ecluster.routing.allocation.disk.threshold_enabled=false \
      -Eplugins.security.audit.type=noop \
      >>"$log" 2>&1 </dev/null &
    echo $! >"$CDCV_RUN_DIR/opensearch-secure.pid"
    pid="$(cat "$CDCV_RUN_DIR/opensearch-secure.pid")"
    status="up (started, pid $pid)"
  fi
  local started=$SECONDS deadline=$((SECONDS + CDCV_STACK_TIMEOUT_S))
  until ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      local cause; cause="$(grep -E 'ERROR|Exception|Error:|error' "$log" 2>/dev/null | tail -n1 | cut -c1-300)"
      cdcv_die "secured OpenSearch exited during start-up (${cause:-no error logged}); see $(cdcv_rel "$log") and $(cdcv_rel "$logs")"
    fi
    (( SECONDS < deadline )) || cdcv_die "secured OpenSearch not ready (security UP, yellow) at $url within ${CDCV_STACK_TIMEOUT_S}s (raise CDCV_STACK_TIMEOUT_S?); see $(cdcv_rel "$log")"
    sleep 1
  done
  [[ $status == *started* ]] && status="$status, ready in $((SECONDS - started))s"
  printf '%-9s %-28s %s\n' os-secure "$url" "$status $version+security; CA $ca_file; admin credentials $creds"
}

stop() { cdcv_stop opensearch-secure "$cluster_flag"; }

status() {
  local pid
  if ! pid="$(cdcv_our_pid opensearch-secure "$cluster_flag")"; then
    printf '%-9s %-28s %s\n' os-secure "$url" "not started (on demand: scripts/stack/opensearch-secure.sh start)"
    return 3
  fi
  local h; h="$(admin_curl "$url/_cluster/health" 2>/dev/null | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')" || true
  if [[ $h == green || $h == yellow ]]; then
    printf '%-9s %-28s %s\n' os-secure "$url" "up (pid $pid, cluster $h) $version+security"
  else
    printf '%-9s %-28s %s\n' os-secure "$url" "DOWN: ${h:+cluster $h}${h:-not answering} (pid $pid)"; return 1
  fi
}

set_password() { # user, password
  local user="${1:-}" password="${2:-}"
  [[ -n $user && -n $password ]] || cdcv_die "usage: opensearch-secure.sh set-password <user> <password>"
  [[ $password != *[[:cntrl:]]* ]] || cdcv_die "a password with control characters is not supported here"
  [[ $user =~ ^[A-Za-z0-9._@-]+$ ]] || cdcv_die "user name '$user' has characters this script does not pass on; use letters, digits, . _ @ -"
  cdcv_our_pid opensearch-secure "$cluster_flag" >/dev/null || cdcv_die "the secured OpenSearch is not running; start it first: scripts/stack/opensearch-secure.sh start"
  local body code
  # JSON Patch of the one field: the user's roles and attributes stay; the plugin hashes it.
  body="$(admin_curl -X PATCH -H 'Content-Type: application/json' -w '\n%{http_code}' \
    "$url/_plugins/_security/api/internalusers/$user" -d "[{\"op\":\"add\",\"path\":\"/password\",\"value\":$(json_string "$password")}]" 2>&1)" || true
  code="${body##*$'\n'}"
  [[ $code == 200 ]] || cdcv_die "setting the password of $user failed (HTTP $code: $(head -c 300 <<<"${body%$'\n'*}")); the plugin refuses weak passwords and unknown users"
  [[ $user == admin ]] && write_credentials "$user" "$password"
  cdcv_log "password of $user changed at $url"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  set-password) shift; set_password "$@" ;;
  -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) cdcv_die "usage: opensearch-secure.sh start|stop|status|set-password <user> <password>" ;;
esac
