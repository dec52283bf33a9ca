# shellcheck shell=bash disable=SC2034  # variables here are used by the scripts sourcing this file
# Settings of the local stack (Kafka KRaft + Kafka Connect/Debezium, the
# machine's PostgreSQL and Redis, OpenSearch, the schema registry, the Redis
# Sentinel set, s3proxy and the secured OpenSearch node). Sourced by the other
# scripts in this folder; every setting is an environment variable with a
# default, so export one to change it:
#
#   CDCV_STACK_DIR              where the stack keeps jars (lib/, plugins/), Kafka data,
#                               configs, logs (logs/) and pid files (run/).
#                               Default: <repo>/.stack (git-ignored).
#   CDCV_KAFKA_PORT             Kafka client listener (PLAINTEXT).           Default: 9092
#   CDCV_KAFKA_CONTROLLER_PORT  KRaft controller listener.                   Default: 9093
#   CDCV_STACK_KAFKA_SASL_PORT  Kafka SASL_SSL listener (SCRAM-SHA-512, mutual TLS, ACLs;
#                               kafka-security.sh).                          Default: 9094
#   CDCV_CONNECT_PORT           Kafka Connect REST port.                     Default: 8083
#   CDCV_PG_HOST / CDCV_PG_PORT PostgreSQL to reconfigure for logical decoding.
#                                                               Default: 127.0.0.1 / 5432
#   CDCV_PG_USER                PostgreSQL superuser used for that.          Default: postgres
#   CDCV_REDIS_HOST / CDCV_REDIS_PORT
#                               Redis for table state and the cache sink.
#                                                               Default: 127.0.0.1 / 6379
#   CDCV_KAFKA_HEAP             JVM heap flags of the broker.   Default: -Xms256m -Xmx1g
#   CDCV_CONNECT_HEAP           JVM heap flags of Connect.      Default: -Xms256m -Xmx1g
#   CDCV_STACK_TIMEOUT_S        how long each readiness wait may take.       Default: 120
#   CDCV_OPENSEARCH_PORT        OpenSearch HTTP port (search-index sink).    Default: 9200
#   CDCV_OPENSEARCH_HEAP        JVM heap flags of OpenSearch.   Default: -Xms512m -Xmx512m
#   CDCV_OPENSEARCH_USER        user OpenSearch runs as when the stack is started by root
#                               (OpenSearch refuses to run as root).          Default: nobody
#   CDCV_REGISTRY_PORT          Apicurio schema registry HTTP port (Avro; registry.sh).
#                                                               Default: 8081
#   CDCV_CONNECT_PLUGIN_DISCOVERY  Connect's plugin.discovery.       Default: service_load
#                               (fast start; finds every Kafka and Debezium connector,
#                               converter and common SMT, but not plugins whose jars lack
#                               META-INF/services manifests, e.g. Debezium's
#                               DecodeLogicalDecodingMessageContent: use hybrid_warn then)
#   CDCV_REDIS_HA_PRIMARY_PORT  Redis HA set (sentinel.sh, for fault tests): port of the
#                               node started as primary (after a failover it may be the
#                               replica's; ask `sentinel.sh primary`).   Default: 6380
#   CDCV_REDIS_HA_REPLICA_PORT  its replica.                              Default: 6381
#   CDCV_REDIS_SENTINEL_PORTS   comma-separated ports of its Sentinels (quorum: a majority).
#                                                               Default: 26380,26381,26382
#   CDCV_REDIS_SENTINEL_NAME    the name the Sentinels monitor it as.    Default: cdcv-ha
#   CDCV_REDIS_SENTINEL_DOWN_AFTER_MS      Sentinel down-after-milliseconds. Default: 1000
#   CDCV_REDIS_SENTINEL_FAILOVER_TIMEOUT_MS  Sentinel failover-timeout.    Default: 5000
#   CDCV_S3_PORT                s3proxy (s3proxy.sh): S3 API on 127.0.0.1, path-style,
#                               any region.                               Default: 9000
#   CDCV_S3_ACCESS_KEY / CDCV_S3_SECRET_KEY
#                               the one key pair it accepts (SigV2/V4; local test keys).
#                                                               Default: cdcv / cdcv-secret
#   CDCV_S3_BUCKET              bucket created at start.                  Default: cdcv-lake
#   CDCV_S3_HEAP                JVM heap flags of s3proxy.      Default: -Xms32m -Xmx256m
#   CDCV_OPENSEARCH_SECURE_PORT second OpenSearch node, with the security plugin (HTTPS +
#                               basic auth; opensearch-secure.sh, on demand). Default: 9201
#   CDCV_OPENSEARCH_SECURE_TRANSPORT_PORT  its transport port (outside 9300-9400, the range
#                               from which opensearch.sh's node picks one). Default: 9401
#   CDCV_OPENSEARCH_SECURE_HEAP JVM heap flags of it.           Default: -Xms512m -Xmx512m
#   CDCV_OPENSEARCH_SECURE_ADMIN_PASSWORD  admin's password at install (first start; the
#                               plugin refuses weak ones).      Default: Cdcv-Stack-Search-7492!
#   CDCV_STACK_REDIS_TLS_PORT   Redis with TLS only and an ACL user (redis-tls.sh, on demand;
#                               Redis security tests).                       Default: 6390
#
# Derived (set them yourself to use an existing cluster; ensure.sh then starts nothing):
#   CDCV_KAFKA_BROKERS   localhost:$CDCV_KAFKA_PORT
#   CDCV_CONNECT_URL     http://localhost:$CDCV_CONNECT_PORT
#   CDCV_REDIS_URL       redis://$CDCV_REDIS_HOST:$CDCV_REDIS_PORT
#   CDCV_OPENSEARCH_URL  http://localhost:$CDCV_OPENSEARCH_PORT
#   CDCV_SCHEMA_REGISTRY_URL  http://localhost:$CDCV_REGISTRY_PORT/apis/ccompat/v7
#   CDCV_REDIS_SENTINELS 127.0.0.1:<port>,... for each of CDCV_REDIS_SENTINEL_PORTS
#                        (ioredis: { sentinels, name: CDCV_REDIS_SENTINEL_NAME })
#   CDCV_S3_ENDPOINT     http://127.0.0.1:$CDCV_S3_PORT (S3 clients: forcePathStyle)
#   CDCV_OPENSEARCH_SECURE_URL          https://127.0.0.1:$CDCV_OPENSEARCH_SECURE_PORT
#   CDCV_OPENSEARCH_SECURE_CA           $CDCV_STACK_DIR/opensearch-secure/root-ca.pem
#   CDCV_OPENSEARCH_SECURE_CREDENTIALS  $CDCV_STACK_DIR/opensearch-secure/admin.json
#   CDCV_STACK_KAFKA_TLS_DIR   $CDCV_STACK_DIR/kafka-tls: ca.pem, client.pem/client.key,
#                        <user>.password of the SASL_SSL listener (kafka-security.sh)
#                        ({"username","password"}: the admin's current ones)
#
# Fixed names (not settings): replication role cdcv_replicator / password cdcv,
# Connect group cdcv-connect, storage topics cdcv-connect-{configs,offsets,status}.

CDCV_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

: "${CDCV_STACK_DIR:=$CDCV_REPO_ROOT/.stack}"
: "${CDCV_KAFKA_PORT:=9092}"
: "${CDCV_KAFKA_CONTROLLER_PORT:=9093}"
: "${CDCV_STACK_KAFKA_SASL_PORT:=9094}"
: "${CDCV_CONNECT_PORT:=8083}"
: "${CDCV_PG_HOST:=127.0.0.1}"
: "${CDCV_PG_PORT:=5432}"
: "${CDCV_PG_USER:=postgres}"
: "${CDCV_REDIS_HOST:=127.0.0.1}"
: "${CDCV_REDIS_PORT:=6379}"
: "${CDCV_KAFKA_HEAP:=-Xms256m -Xmx1g}"
: "${CDCV_CONNECT_HEAP:=-Xms256m -Xmx1g}"
: "${CDCV_STACK_TIMEOUT_S:=120}"
: "${CDCV_CONNECT_PLUGIN_DISCOVERY:=service_load}"
: "${CDCV_OPENSEARCH_PORT:=9200}"
: "${CDCV_OPENSEARCH_HEAP:=-Xms512m -Xmx512m}"
: "${CDCV_OPENSEARCH_USER:=nobody}"
: "${CDCV_REGISTRY_PORT:=8081}"
: "${CDCV_REDIS_HA_PRIMARY_PORT:=6380}"
: "${CDCV_REDIS_HA_REPLICA_PORT:=6381}"
: "${CDCV_REDIS_SENTINEL_PORTS:=26380,26381,26382}"
: "${CDCV_REDIS_SENTINEL_NAME:=cdcv-ha}"
: "${CDCV_REDIS_SENTINEL_DOWN_AFTER_MS:=1000}"
: "${CDCV_REDIS_SENTINEL_FAILOVER_TIMEOUT_MS:=5000}"
: "${CDCV_S3_PORT:=9000}"
: "${CDCV_S3_ACCESS_KEY:=cdcv}"
: "${CDCV_S3_SECRET_KEY:=cdcv-secret}"
: "${CDCV_S3_BUCKET:=cdcv-lake}"
: "${CDCV_S3_HEAP:=-Xms32m -Xmx256m}"
: "${CDCV_OPENSEARCH_SECURE_PORT:=9201}"
: "${CDCV_OPENSEARCH_SECURE_TRANSPORT_PORT:=9401}"
: "${CDCV_OPENSEARCH_SECURE_HEAP:=-Xms512m -Xmx512m}"
: "${CDCV_OPENSEARCH_SECURE_ADMIN_PASSWORD:=Cdcv-Stack-Search-7492!}"
: "${CDCV_STACK_REDIS_TLS_PORT:=6390}"

: "${CDCV_KAFKA_BROKERS:=localhost:$CDCV_KAFKA_PORT}"
: "${CDCV_CONNECT_URL:=http://localhost:$CDCV_CONNECT_PORT}"
: "${CDCV_REDIS_URL:=redis://$CDCV_REDIS_HOST:$CDCV_REDIS_PORT}"
: "${CDCV_OPENSEARCH_URL:=http://localhost:$CDCV_OPENSEARCH_PORT}"
: "${CDCV_SCHEMA_REGISTRY_URL:=http://localhost:$CDCV_REGISTRY_PORT/apis/ccompat/v7}"
: "${CDCV_REDIS_SENTINELS:=127.0.0.1:${CDCV_REDIS_SENTINEL_PORTS//,/,127.0.0.1:}}"
: "${CDCV_S3_ENDPOINT:=http://127.0.0.1:$CDCV_S3_PORT}"
: "${CDCV_OPENSEARCH_SECURE_URL:=https://127.0.0.1:$CDCV_OPENSEARCH_SECURE_PORT}"
: "${CDCV_OPENSEARCH_SECURE_CA:=$CDCV_STACK_DIR/opensearch-secure/root-ca.pem}"
: "${CDCV_OPENSEARCH_SECURE_CREDENTIALS:=$CDCV_STACK_DIR/opensearch-secure/admin.json}"
: "${CDCV_STACK_KAFKA_TLS_DIR:=$CDCV_STACK_DIR/kafka-tls}"

export CDCV_STACK_DIR CDCV_KAFKA_PORT CDCV_KAFKA_CONTROLLER_PORT CDCV_CONNECT_PORT \
  CDCV_PG_HOST CDCV_PG_PORT CDCV_PG_USER CDCV_REDIS_HOST CDCV_REDIS_PORT \
  CDCV_KAFKA_HEAP CDCV_CONNECT_HEAP CDCV_STACK_TIMEOUT_S CDCV_CONNECT_PLUGIN_DISCOVERY \
  CDCV_KAFKA_BROKERS CDCV_CONNECT_URL CDCV_REDIS_URL \
  CDCV_OPENSEARCH_PORT CDCV_OPENSEARCH_HEAP CDCV_OPENSEARCH_USER CDCV_OPENSEARCH_URL \
  CDCV_REGISTRY_PORT CDCV_SCHEMA_REGISTRY_URL \
  CDCV_REDIS_HA_PRIMARY_PORT CDCV_REDIS_HA_REPLICA_PORT CDCV_REDIS_SENTINEL_PORTS CDCV_REDIS_SENTINEL_NAME \
  CDCV_REDIS_SENTINEL_DOWN_AFTER_MS CDCV_REDIS_SENTINEL_FAILOVER_TIMEOUT_MS CDCV_REDIS_SENTINELS \
  CDCV_S3_PORT CDCV_S3_ACCESS_KEY CDCV_S3_SECRET_KEY CDCV_S3_BUCKET CDCV_S3_HEAP CDCV_S3_ENDPOINT \
  CDCV_OPENSEARCH_SECURE_PORT CDCV_OPENSEARCH_SECURE_TRANSPORT_PORT CDCV_OPENSEARCH_SECURE_HEAP \
  CDCV_OPENSEARCH_SECURE_ADMIN_PASSWORD CDCV_OPENSEARCH_SECURE_URL CDCV_OPENSEARCH_SECURE_CA \
  CDCV_OPENSEARCH_SECURE_CREDENTIALS CDCV_STACK_REDIS_TLS_PORT CDCV_STACK_KAFKA_SASL_PORT CDCV_STACK_KAFKA_TLS_DIR

# Layout inside the stack dir (internal, not settings; used by the scripts that source this).
CDCV_LIB_DIR="$CDCV_STACK_DIR/lib"
CDCV_PLUGIN_DIR="$CDCV_STACK_DIR/plugins"
CDCV_LOG_DIR="$CDCV_STACK_DIR/logs"
CDCV_RUN_DIR="$CDCV_STACK_DIR/run"
CDCV_KAFKA_DIR="$CDCV_STACK_DIR/kafka"
CDCV_CONNECT_DIR="$CDCV_STACK_DIR/connect"
CDCV_OPENSEARCH_DIR="$CDCV_STACK_DIR/opensearch"   # data/, the JVM's working dir
CDCV_OPENSEARCH_DIST_DIR="$CDCV_STACK_DIR/opensearch-dist"   # the unpacked zip (fetch-jars.sh)

# The stack dir as the user would write it in a message (.stack/... when inside the repo).
cdcv_rel() { local p="$1"; [[ $p == "$CDCV_REPO_ROOT/"* ]] && p="${p#"$CDCV_REPO_ROOT/"}"; printf '%s' "$p"; }

# Every failure is one line on stderr, prefixed so it stands out in npm/CI output.
cdcv_die() { echo "cdc-views stack: $*" >&2; exit 1; }
cdcv_log() { echo "cdc-views stack: $*"; }

# True when host:port accepts a TCP connection (bash /dev/tcp; no nc needed).
cdcv_port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Dies with one line if something listens on a local port we are about to bind.
cdcv_require_free_port() { # port, what, env var(s) that move it
  cdcv_port_open 127.0.0.1 "$1" || cdcv_port_open ::1 "$1" || return 0
  local owner; owner="$(cdcv_port_owner "$1")"
  cdcv_die "port $1 ($2) is already taken by ${owner:-another process}; stop it or set $3 to a free port"
}

# "pid N (command)" of whatever listens on a local TCP port, or "" if ss can't tell.
cdcv_port_owner() {
  command -v ss >/dev/null || return 0
  ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/pid \2 (\1)/p' | head -n1
}

# Pid recorded in run/<name>.pid if that process is alive AND still runs our main
# class (guards against a stale pid file whose pid was reused by something else).
cdcv_our_pid() {
  local main_class="$2" pidfile="$CDCV_RUN_DIR/$1.pid" pid
  [[ -f $pidfile ]] || return 1
  pid="$(cat "$pidfile")"
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
     tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF " $main_class "; then
    echo "$pid"; return 0
  fi
  rm -f "$pidfile"   # stale (kill -9, reboot): forget it
  return 1
}

# Stops one of our processes: SIGCONT (a frozen process cannot act on SIGTERM),
# SIGTERM so it can flush and close cleanly, SIGKILL after 30 s; removes its pid file.
cdcv_stop() { # name, main class
  local pid
  if ! pid="$(cdcv_our_pid "$1" "$2")"; then
    cdcv_log "$1 not running"
    return 0
  fi
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    cdcv_log "$1 (pid $pid) still running after 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$CDCV_RUN_DIR/$1.pid"
  cdcv_log "$1 stopped (pid $pid)"
}

cdcv_is_local_host() { [[ $1 == 127.* || $1 == localhost || $1 == ::1 || $1 == "$(hostname)" ]]; }
