#!/usr/bin/env bash
# Make sure a stack is there before integration tests (called by npm test).
# If the user exported both CDCV_KAFKA_BROKERS and CDCV_CONNECT_URL, they run
# their own stack: touch nothing. Otherwise start (or check) the local one.
set -euo pipefail
if [[ -n "${CDCV_KAFKA_BROKERS:-}" && -n "${CDCV_CONNECT_URL:-}" ]]; then
  echo "cdc-views stack: using the configured stack (CDCV_KAFKA_BROKERS=$CDCV_KAFKA_BROKERS, CDCV_CONNECT_URL=$CDCV_CONNECT_URL); not starting the local one"
  exit 0
fi
exec bash "$(dirname "${BASH_SOURCE[0]}")/up.sh"
