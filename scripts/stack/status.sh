#!/usr/bin/env bash
# One line per component of the stack (npm run stack:status); exit 0 when all
# are up, 1 otherwise. Checks the addresses the application would use
# (CDCV_KAFKA_BROKERS, CDCV_CONNECT_URL, ...), so it also works for a stack you
# configured yourself.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

all_up=1
line() { printf '%-9s %-28s %s\n' "$1" "$2" "$3"; }
down() { all_up=0; line "$1" "$2" "DOWN: $3"; }

# PostgreSQL: up only if configured for logical decoding.
pg_addr="$CDCV_PG_HOST:$CDCV_PG_PORT"
if pg="$(PGCONNECT_TIMEOUT=5 psql -X -At -F ' ' -h "$CDCV_PG_HOST" -p "$CDCV_PG_PORT" -U "$CDCV_PG_USER" -d postgres \
      -c "select current_setting('wal_level'), (select count(*) from pg_replication_slots)" 2>/dev/null)"; then
  read -r wal slots <<<"$pg"
  if [[ $wal == logical ]]; then line postgres "$pg_addr" "up (wal_level=logical, $slots replication slots)"
  else down postgres "$pg_addr" "wal_level=$wal, not logical (run npm run stack:up)"; fi
else
  down postgres "$pg_addr" "not answering"
fi

redis_addr="$CDCV_REDIS_HOST:$CDCV_REDIS_PORT"
if [[ "$(timeout 5 redis-cli -h "$CDCV_REDIS_HOST" -p "$CDCV_REDIS_PORT" ping 2>/dev/null)" == PONG ]]; then
  line redis "$redis_addr" "up"
else
  down redis "$redis_addr" "no PONG"
fi

# Kafka: every broker in the list must accept connections (a TCP check keeps
# status fast; up.sh does the full metadata check).
kafka_ok=1
IFS=',' read -ra brokers <<<"$CDCV_KAFKA_BROKERS"
for b in "${brokers[@]}"; do cdcv_port_open "${b%:*}" "${b##*:}" || kafka_ok=0; done
pid_note=""
pid="$(cdcv_our_pid kafka kafka.Kafka)" && pid_note=", pid $pid"
if (( kafka_ok )); then line kafka "$CDCV_KAFKA_BROKERS" "up$pid_note"
else down kafka "$CDCV_KAFKA_BROKERS" "not accepting connections"; fi

# Connect: REST answers; list connectors with their state.
if connectors="$(curl -fsS --max-time 5 "$CDCV_CONNECT_URL/connectors?expand=status" 2>/dev/null)"; then
  # "name=STATE" per connector, without needing jq.
  list="$(printf '%s' "$connectors" | grep -o '"name":"[^"]*","connector":{"state":"[^"]*"' |
          sed 's/"name":"\([^"]*\)","connector":{"state":"\([^"]*\)"/\1=\2/' | paste -sd ' ' -)" || true
  pid_note=""
  pid="$(cdcv_our_pid connect org.apache.kafka.connect.cli.ConnectDistributed)" && pid_note="pid $pid, "
  line connect "$CDCV_CONNECT_URL" "up (${pid_note}connectors: ${list:-none})"
else
  down connect "$CDCV_CONNECT_URL" "REST API not answering"
fi

bash "$(dirname "${BASH_SOURCE[0]}")/kafka-security.sh" status || all_up=0
bash "$(dirname "${BASH_SOURCE[0]}")/opensearch.sh" status || all_up=0
bash "$(dirname "${BASH_SOURCE[0]}")/registry.sh" status || all_up=0
bash "$(dirname "${BASH_SOURCE[0]}")/sentinel.sh" status || all_up=0
bash "$(dirname "${BASH_SOURCE[0]}")/s3proxy.sh" status || all_up=0
# Started on demand by the tests that need it: "not started" (exit 3) is no failure.
rc=0; bash "$(dirname "${BASH_SOURCE[0]}")/opensearch-secure.sh" status || rc=$?
(( rc == 0 || rc == 3 )) || all_up=0
rc=0; bash "$(dirname "${BASH_SOURCE[0]}")/redis-tls.sh" status || rc=$?
(( rc == 0 || rc == 3 )) || all_up=0

exit $(( all_up ? 0 : 1 ))
