#!/usr/bin/env bash
# Stop the local stack's s3proxy, Redis Sentinel set, secured OpenSearch (if a
# test started it), OpenSearch, schema registry, Kafka Connect, then Kafka
# (npm run stack:down). PostgreSQL and Redis are the machine's services and stay running.
#   --purge   also delete Kafka's data (topics, and with them Connect's
#             configs/offsets/status, which live in Kafka topics), the
#             registry's schemas and s3proxy's objects (lake files made from
#             those topics); the next up.sh formats a fresh cluster.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

purge=0
for arg in "$@"; do
  case "$arg" in
    --purge) purge=1 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) cdcv_die "unknown option $arg (usage: down.sh [--purge])" ;;
  esac
done

bash "$(dirname "${BASH_SOURCE[0]}")/s3proxy.sh" stop
bash "$(dirname "${BASH_SOURCE[0]}")/sentinel.sh" stop
bash "$(dirname "${BASH_SOURCE[0]}")/opensearch-secure.sh" stop
bash "$(dirname "${BASH_SOURCE[0]}")/redis-tls.sh" stop
# SIGTERM (cdcv_stop) lets Kafka flush and close its logs cleanly (faster next
# start, no log recovery) and lets Connect commit source offsets.
bash "$(dirname "${BASH_SOURCE[0]}")/opensearch.sh" stop
bash "$(dirname "${BASH_SOURCE[0]}")/registry.sh" stop
# Connect first: it would otherwise spin on a vanished broker and cannot flush offsets.
cdcv_stop connect org.apache.kafka.connect.cli.ConnectDistributed
cdcv_stop kafka kafka.Kafka

if (( purge )); then
  # The registry's schema ids are named inside Kafka's Avro records: they go together.
  rm -rf "$CDCV_KAFKA_DIR" "$CDCV_CONNECT_DIR" "$CDCV_STACK_DIR/registry/data" "$CDCV_STACK_DIR/s3proxy/data"
  cdcv_log "purged Kafka data and Connect state ($(cdcv_rel "$CDCV_KAFKA_DIR"), $(cdcv_rel "$CDCV_CONNECT_DIR")) and s3proxy's objects; jars and logs kept"
fi
