#!/usr/bin/env bash
# Start the local stack without Docker (npm run stack:up):
#   PostgreSQL (the machine's; reconfigured for logical decoding), Redis (the
#   machine's; started if down), Kafka in KRaft mode (one node) and Kafka Connect
#   with the Debezium PostgreSQL plugin (both from Maven Central jars), and
#   OpenSearch for the search-index sink (opensearch.sh), the Apicurio
#   schema registry with its Kafka Connect Avro converter (registry.sh), a Redis
#   primary/replica with Sentinels for failover tests (sentinel.sh) and an
#   S3-compatible object store (s3proxy.sh). Not the secured OpenSearch node:
#   tests that need it run opensearch-secure.sh start.
# Idempotent: what already runs is checked and left alone. Each step waits for
# readiness (CDCV_STACK_TIMEOUT_S) and any failure is one line naming the fix.
# Settings: see env.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/env.sh"

started_at=$SECONDS
mkdir -p "$CDCV_LOG_DIR" "$CDCV_RUN_DIR"
declare -a summary=()
note() { summary+=("$(printf '%-9s %-28s %s' "$1" "$2" "$3")"); }

# Keeps logs from growing without bound across many restarts.
rotate_log() { [[ -f $1 ]] && (( $(stat -c %s "$1") > 50 * 1024 * 1024 )) && mv -f "$1" "$1.1"; return 0; }

# Last ERROR/Exception line of a log, to put the cause into the one-line message.
last_error() { grep -E 'ERROR|Exception|Error:' "$1" 2>/dev/null | tail -n1 | cut -c1-300; }

# Starts a JVM in its own session (so Ctrl-C in the calling terminal or npm does
# not take the stack down) and records its pid.
start_java() { # name, heap flags, main class, args...
  local name="$1" heap="$2" main="$3"; shift 3
  local log="$CDCV_LOG_DIR/$name.log" heap_flags
  read -ra heap_flags <<<"$heap"
  rotate_log "$log"
  echo "===== $(date -Is) starting $name (scripts/stack/up.sh) =====" >>"$log"
  setsid nohup java "${heap_flags[@]}" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$here/log4j.properties" \
    -cp "$CDCV_LIB_DIR/*" "$main" "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$CDCV_RUN_DIR/$name.pid"
}

# Short-lived Kafka CLI tool; the JIT/GC flags make the JVM start faster, the
# timeout keeps a hung metadata request from outliving the readiness wait.
kafka_tool() {
  timeout 60 java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto \
    -Dlog4j.configuration="file:$here/tools-log4j.properties" -cp "$CDCV_LIB_DIR/*" "$@"
}

# ---------------------------------------------------------------- a. tools
command -v java >/dev/null || cdcv_die "java not found: install a JDK 17: apt-get install openjdk-17-jre-headless"
java_major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
(( ${java_major:-0} >= 17 )) || cdcv_die "java ${java_major:-?} found but Kafka 3.9 + Debezium 3.1 need Java 17+: install a JDK 17: apt-get install openjdk-17-jre-headless"
[[ -d $CDCV_LIB_DIR ]] || command -v mvn >/dev/null ||
  cdcv_die "mvn not found (needed once to download the jars): apt-get install maven, or set CDCV_STACK_DIR to a prepared folder"
command -v curl >/dev/null || cdcv_die "curl not found (needed to talk to Kafka Connect): apt-get install curl"

# ---------------------------------------------------------------- b. jars
bash "$here/fetch-jars.sh"

# ---------------------------------------------------------------- c. PostgreSQL
command -v psql >/dev/null || cdcv_die "psql not found: apt-get install postgresql-client"
export PGCONNECT_TIMEOUT=5
pgq() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$CDCV_PG_HOST" -p "$CDCV_PG_PORT" -U "$CDCV_PG_USER" -d postgres "$@"; }
pg_addr="$CDCV_PG_HOST:$CDCV_PG_PORT"

# The Debian cluster ("<version> <name>") serving CDCV_PG_PORT on this machine, if any.
local_cluster() {
  cdcv_is_local_host "$CDCV_PG_HOST" && command -v pg_lsclusters >/dev/null || return 1
  pg_lsclusters -h 2>/dev/null | awk -v p="$CDCV_PG_PORT" '$3 == p { print $1, $2, $4; exit }' | grep .
}
wait_pg() {
  local deadline=$((SECONDS + CDCV_STACK_TIMEOUT_S))
  until pgq -c 'select 1' >/dev/null 2>&1; do
    (( SECONDS < deadline )) || return 1
    sleep 1
  done
}

if ! pgq -c 'select 1' >/dev/null 2>"$CDCV_LOG_DIR/psql.err"; then
  # A local cluster that is merely stopped is started; anything else is reported.
  if read -r pg_ver pg_name pg_state < <(local_cluster) && [[ $pg_state == down ]]; then
    cdcv_log "starting PostgreSQL cluster $pg_ver/$pg_name"
    pg_ctlcluster --skip-systemctl-redirect "$pg_ver" "$pg_name" start >>"$CDCV_LOG_DIR/postgres-ctl.log" 2>&1 ||
      cdcv_die "PostgreSQL $pg_ver/$pg_name on port $CDCV_PG_PORT failed to start; see $(cdcv_rel "$CDCV_LOG_DIR/postgres-ctl.log") and the cluster log under /var/log/postgresql"
    wait_pg || cdcv_die "PostgreSQL $pg_ver/$pg_name started but does not answer on $pg_addr within ${CDCV_STACK_TIMEOUT_S}s"
  else
    cdcv_die "PostgreSQL not answering on $pg_addr as $CDCV_PG_USER ($(head -n1 "$CDCV_LOG_DIR/psql.err")); start it (pg_ctlcluster --skip-systemctl-redirect <version> main start) or set CDCV_PG_HOST/CDCV_PG_PORT/CDCV_PG_USER"
  fi
fi
[[ "$(pgq -c "select rolsuper from pg_roles where rolname = current_user")" == t ]] ||
  cdcv_die "PostgreSQL user $CDCV_PG_USER is not a superuser (needed for ALTER SYSTEM and the replication role); set CDCV_PG_USER to one"

# Logical decoding needs wal_level=logical; every connector and every replay
# slot takes a replication slot and a WAL sender, hence 20 of each.
IFS='|' read -r wal_level max_slots max_senders < <(pgq -c \
  "select current_setting('wal_level'), current_setting('max_replication_slots'), current_setting('max_wal_senders')")
pg_changes=()
[[ $wal_level == logical ]] || pg_changes+=("wal_level = 'logical'")
(( max_slots >= 20 )) || pg_changes+=("max_replication_slots = 20")
(( max_senders >= 20 )) || pg_changes+=("max_wal_senders = 20")
if (( ${#pg_changes[@]} > 0 )); then
  for c in "${pg_changes[@]}"; do pgq -c "ALTER SYSTEM SET $c" >/dev/null; done
  # These settings only take effect on restart: restart, but only now that it is needed.
  if read -r pg_ver pg_name _ < <(local_cluster); then
    cdcv_log "restarting PostgreSQL $pg_ver/$pg_name to apply: ${pg_changes[*]}"
    pg_ctlcluster --skip-systemctl-redirect "$pg_ver" "$pg_name" restart >>"$CDCV_LOG_DIR/postgres-ctl.log" 2>&1 ||
      cdcv_die "PostgreSQL $pg_ver/$pg_name failed to restart; see $(cdcv_rel "$CDCV_LOG_DIR/postgres-ctl.log") and the cluster log under /var/log/postgresql"
    wait_pg || cdcv_die "PostgreSQL did not come back on $pg_addr within ${CDCV_STACK_TIMEOUT_S}s after the restart"
  else
    cdcv_die "PostgreSQL at $pg_addr needs a restart to apply ${pg_changes[*]} (ALTER SYSTEM is done); restart it, then run npm run stack:up again"
  fi
  [[ "$(pgq -c 'show wal_level')" == logical ]] || cdcv_die "PostgreSQL at $pg_addr still has wal_level=$(pgq -c 'show wal_level') after the restart; check postgresql.conf for an override"
fi

# The role Debezium connects as (per-database grants and publications are made
# by the code that creates the sample database).
pgq >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cdcv_replicator') THEN
    CREATE ROLE cdcv_replicator REPLICATION LOGIN PASSWORD 'cdcv';
  ELSIF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cdcv_replicator' AND rolreplication AND rolcanlogin) THEN
    ALTER ROLE cdcv_replicator REPLICATION LOGIN PASSWORD 'cdcv';
  END IF;
END $$;
SQL

# pg_hba.conf: "replication" lines are what physical replication connections
# (pg_basebackup, pg_receivewal) match. Add one per loopback address unless some
# non-reject host line for the replication pseudo-database already covers it.
hba_covers() { # ip
  pgq -v ip="$1" <<'SQL'
SELECT count(*) FROM pg_hba_file_rules
WHERE error IS NULL AND type IN ('host', 'hostnossl') AND auth_method <> 'reject'
  AND database && ARRAY['replication'] AND user_name && ARRAY['all', 'cdcv_replicator']
  AND CASE
        WHEN address IN ('all', 'samehost', 'samenet') THEN true
        WHEN address ~ '^[0-9a-fA-F:.]+$' AND netmask IS NOT NULL
          THEN family(address::inet) = family(:'ip'::inet)
               AND (address::inet & netmask::inet) = (:'ip'::inet & netmask::inet)
        ELSE false
      END;
SQL
}
hba_file="$(pgq -c 'show hba_file')"
hba_added=0
for ip_mask in 127.0.0.1/32 ::1/128; do
  (( $(hba_covers "${ip_mask%/*}") > 0 )) && continue
  [[ -w $hba_file ]] || cdcv_die "pg_hba.conf ($hba_file) has no replication line for ${ip_mask%/*} and is not writable here; add 'host replication all $ip_mask trust' and reload PostgreSQL"
  printf '# added by cdc-views scripts/stack/up.sh: replication connections from this machine\nhost    replication     all             %-23s trust\n' "$ip_mask" >>"$hba_file"
  hba_added=1
done
if (( hba_added )); then
  pgq -c 'select pg_reload_conf()' >/dev/null
  cdcv_log "added replication lines to $hba_file and reloaded PostgreSQL"
fi

# Proof that what Debezium does works: a logical replication connection as the role.
# (Retried briefly because pg_reload_conf() is asynchronous.)
for i in 1 2 3 4 5 6 7 8 9 10; do
  PGPASSWORD=cdcv psql -X -At "host=$CDCV_PG_HOST port=$CDCV_PG_PORT user=cdcv_replicator dbname=postgres replication=database" \
    -c IDENTIFY_SYSTEM >/dev/null 2>"$CDCV_LOG_DIR/psql.err" && break
  (( i < 10 )) || cdcv_die "replication connection as cdcv_replicator to $pg_addr fails ($(head -n1 "$CDCV_LOG_DIR/psql.err")); check $hba_file"
  sleep 0.5
done
note postgres "$pg_addr" "up (wal_level=logical, role cdcv_replicator)"

# ---------------------------------------------------------------- d. Redis
redis_addr="$CDCV_REDIS_HOST:$CDCV_REDIS_PORT"
redis_ping() { command -v redis-cli >/dev/null && [[ "$(timeout 5 redis-cli -h "$CDCV_REDIS_HOST" -p "$CDCV_REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }
if ! redis_ping; then
  if cdcv_port_open "$CDCV_REDIS_HOST" "$CDCV_REDIS_PORT" && command -v redis-cli >/dev/null; then
    owner="$(cdcv_port_owner "$CDCV_REDIS_PORT")"
    cdcv_die "port $CDCV_REDIS_PORT (Redis, CDCV_REDIS_PORT) is answered by ${owner:-a process} that does not reply PONG (not Redis, or Redis with a password); stop it or set CDCV_REDIS_PORT"
  fi
  cdcv_is_local_host "$CDCV_REDIS_HOST" ||
    cdcv_die "Redis not answering on $redis_addr; start it there or set CDCV_REDIS_HOST/CDCV_REDIS_PORT"
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    cdcv_log "installing redis-server (apt-get, log: $(cdcv_rel "$CDCV_LOG_DIR/apt.log"))"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server redis-tools; } >"$CDCV_LOG_DIR/apt.log" 2>&1 ||
      cdcv_die "Redis is not installed and apt-get install redis-server failed (see $(cdcv_rel "$CDCV_LOG_DIR/apt.log")); install redis-server or set CDCV_REDIS_HOST/CDCV_REDIS_PORT to a running Redis"
  fi
  # The machine's Redis as CI runs it: no persistence (state is rebuilt from Kafka).
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$CDCV_REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null ||
    cdcv_die "redis-server failed to start on port $CDCV_REDIS_PORT; see /var/log/redis/ci.log"
  deadline=$((SECONDS + CDCV_STACK_TIMEOUT_S))
  until redis_ping; do
    (( SECONDS < deadline )) || cdcv_die "Redis started but does not answer PONG on $redis_addr within ${CDCV_STACK_TIMEOUT_S}s; see /var/log/redis/ci.log"
    sleep 0.2
  done
  note redis "$redis_addr" "up (started)"
else
  note redis "$redis_addr" "up"
fi

# ---------------------------------------------------------------- Sentinel set, s3proxy: launch
# Launched now without waiting, so they start while Kafka and Connect do; waited
# for at the end. Each dies with one line if it cannot even be launched.
bash "$here/sentinel.sh" launch
bash "$here/s3proxy.sh" launch

# ---------------------------------------------------------------- e. Kafka (KRaft)
kafka_props="$CDCV_KAFKA_DIR/server.properties"
kafka_data="$CDCV_KAFKA_DIR/data"
kafka_local="localhost:$CDCV_KAFKA_PORT"

# The broker's configuration; a running Kafka is restarted only when it differs from this.
bash "$here/kafka-security.sh" certs
kafka_config() {
  cat <<EOF
# Generated by scripts/stack/up.sh; edit env.sh settings instead.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:$CDCV_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://:$CDCV_KAFKA_PORT,CONTROLLER://:$CDCV_KAFKA_CONTROLLER_PORT,SASL_SSL://:$CDCV_STACK_KAFKA_SASL_PORT
advertised.listeners=PLAINTEXT://localhost:$CDCV_KAFKA_PORT,SASL_SSL://localhost:$CDCV_STACK_KAFKA_SASL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
log.dirs=$kafka_data
num.partitions=3
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.check.interval.ms=10000
# After a kill -9 the restarted broker cannot register until the controller
# expires its old session (default 9 s); a shorter one speeds up crash tests.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
EOF
  bash "$here/kafka-security.sh" properties
}
kafka_want="$(kafka_config)"

if kafka_pid="$(cdcv_our_pid kafka kafka.Kafka)" && [[ "$(cat "$kafka_props" 2>/dev/null)" != "$kafka_want" ]]; then
  diff "$kafka_props" <(printf '%s\n' "$kafka_want") >"$CDCV_LOG_DIR/kafka-config.diff" || true
  cdcv_log "restarting Kafka (pid $kafka_pid): its configuration changed (see $(cdcv_rel "$CDCV_LOG_DIR/kafka-config.diff"))"
  cdcv_stop kafka kafka.Kafka
fi
if kafka_pid="$(cdcv_our_pid kafka kafka.Kafka)"; then
  kafka_status="up (pid $kafka_pid)"
else
  cdcv_require_free_port "$CDCV_KAFKA_PORT" "Kafka" CDCV_KAFKA_PORT
  cdcv_require_free_port "$CDCV_KAFKA_CONTROLLER_PORT" "Kafka controller" CDCV_KAFKA_CONTROLLER_PORT
  cdcv_require_free_port "$CDCV_STACK_KAFKA_SASL_PORT" "Kafka SASL_SSL" CDCV_STACK_KAFKA_SASL_PORT
  mkdir -p "$CDCV_KAFKA_DIR"
  # Rewritten on every start so a changed port takes effect.
  printf '%s\n' "$kafka_want" >"$kafka_props"
  if [[ ! -f $kafka_data/meta.properties ]]; then
    # First start: format the storage as a single-node dynamic quorum (KIP-853, Kafka 3.9),
    # with the SCRAM users of the SASL_SSL listener (kafka-security.sh).
    cluster_id="$(kafka_tool kafka.tools.StorageTool random-uuid)"
    mapfile -t scram_args < <(bash "$here/kafka-security.sh" format-args)
    kafka_tool kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$kafka_props" "${scram_args[@]}" \
      >>"$CDCV_LOG_DIR/kafka-format.log" 2>&1 ||
      cdcv_die "formatting Kafka storage in $(cdcv_rel "$kafka_data") failed; see $(cdcv_rel "$CDCV_LOG_DIR/kafka-format.log")"
    echo "$CDCV_KAFKA_CONTROLLER_PORT" >"$CDCV_KAFKA_DIR/controller.port"
  elif [[ "$(cat "$CDCV_KAFKA_DIR/controller.port" 2>/dev/null)" != "$CDCV_KAFKA_CONTROLLER_PORT" ]]; then
    # The voter's endpoint is recorded in the metadata log at format time.
    cdcv_die "Kafka data in $(cdcv_rel "$kafka_data") was formatted for controller port $(cat "$CDCV_KAFKA_DIR/controller.port" 2>/dev/null || echo '?'), not $CDCV_KAFKA_CONTROLLER_PORT; run npm run stack:down -- --purge (deletes Kafka data) or restore CDCV_KAFKA_CONTROLLER_PORT"
  fi
  start_java kafka "$CDCV_KAFKA_HEAP" kafka.Kafka "$kafka_props"
  kafka_pid="$(cat "$CDCV_RUN_DIR/kafka.pid")"
  kafka_status="up (started, pid $kafka_pid)"
fi

# Ready = the port answers AND a metadata request (list topics) succeeds.
deadline=$((SECONDS + CDCV_STACK_TIMEOUT_S))
until cdcv_port_open localhost "$CDCV_KAFKA_PORT" &&
      kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$kafka_local" --list >/dev/null 2>>"$CDCV_LOG_DIR/kafka-check.log"; do
  kill -0 "$kafka_pid" 2>/dev/null ||
    cdcv_die "Kafka exited during start-up ($(last_error "$CDCV_LOG_DIR/kafka.log")); see $(cdcv_rel "$CDCV_LOG_DIR/kafka.log")"
  (( SECONDS < deadline )) || cdcv_die "Kafka not ready on $kafka_local within ${CDCV_STACK_TIMEOUT_S}s (raise CDCV_STACK_TIMEOUT_S?); see $(cdcv_rel "$CDCV_LOG_DIR/kafka.log")"
  sleep 1
done
note kafka "$kafka_local" "$kafka_status"
# SCRAM users of a cluster formatted before the SASL_SSL listener existed (once; kafka-security.sh).
bash "$here/kafka-security.sh" users
summary+=("$(bash "$here/kafka-security.sh" status)")

# ---------------------------------------------------------------- schema registry (Avro)
# Before Connect: it fetches the converter plugin that Connect loads at start.
summary+=("$(bash "$here/registry.sh" start)")

# ---------------------------------------------------------------- f. Kafka Connect
connect_main=org.apache.kafka.connect.cli.ConnectDistributed
connect_local="http://localhost:$CDCV_CONNECT_PORT"
if connect_pid="$(cdcv_our_pid connect "$connect_main")"; then
  connect_status="up (pid $connect_pid)"
else
  cdcv_require_free_port "$CDCV_CONNECT_PORT" "Kafka Connect REST" CDCV_CONNECT_PORT
  mkdir -p "$CDCV_CONNECT_DIR"
  cat >"$CDCV_CONNECT_DIR/worker.properties" <<EOF
# Generated by scripts/stack/up.sh; edit env.sh settings instead.
bootstrap.servers=$kafka_local
group.id=cdcv-connect
# JSON with schemas (Debezium's default envelope); a connector may override these.
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
# Connect keeps connector configs, source offsets and status in Kafka itself.
config.storage.topic=cdcv-connect-configs
offset.storage.topic=cdcv-connect-offsets
status.storage.topic=cdcv-connect-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.flush.interval.ms=1000
listeners=http://:$CDCV_CONNECT_PORT
rest.advertised.host.name=localhost
rest.advertised.port=$CDCV_CONNECT_PORT
plugin.path=$CDCV_PLUGIN_DIR
# service_load skips a ~5 s reflection scan of every jar (KIP-898); see env.sh.
plugin.discovery=$CDCV_CONNECT_PLUGIN_DISCOVERY
topic.creation.enable=true
EOF
  start_java connect "$CDCV_CONNECT_HEAP" "$connect_main" "$CDCV_CONNECT_DIR/worker.properties"
  connect_pid="$(cat "$CDCV_RUN_DIR/connect.pid")"
  connect_status="up (started, pid $connect_pid)"
fi

# Ready = the REST API answers and has loaded the Debezium PostgreSQL plugin.
deadline=$((SECONDS + CDCV_STACK_TIMEOUT_S))
until curl -fsS --max-time 5 "$connect_local/connector-plugins" 2>/dev/null | grep -q 'io.debezium.connector.postgresql.PostgresConnector'; do
  kill -0 "$connect_pid" 2>/dev/null ||
    cdcv_die "Kafka Connect exited during start-up ($(last_error "$CDCV_LOG_DIR/connect.log")); see $(cdcv_rel "$CDCV_LOG_DIR/connect.log")"
  (( SECONDS < deadline )) || cdcv_die "Kafka Connect not ready at $connect_local (or without the Debezium PostgresConnector plugin from $(cdcv_rel "$CDCV_PLUGIN_DIR")) within ${CDCV_STACK_TIMEOUT_S}s; see $(cdcv_rel "$CDCV_LOG_DIR/connect.log")"
  sleep 1
done
note connect "$connect_local" "$connect_status, Debezium PostgresConnector loaded"

# ---------------------------------------------------------------- OpenSearch (search-index sink)
# Its distribution was fetched with the jars (b); prints its summary line, or dies with one line.
summary+=("$(bash "$here/opensearch.sh" start)")

# ---------------------------------------------------------------- Sentinel set, s3proxy: ready
summary+=("$(bash "$here/sentinel.sh" start)")
summary+=("$(bash "$here/s3proxy.sh" start)")

# ---------------------------------------------------------------- g. summary
echo "cdc-views stack up in $((SECONDS - started_at))s (logs: $(cdcv_rel "$CDCV_LOG_DIR"))"
printf '  %s\n' "${summary[@]}"
