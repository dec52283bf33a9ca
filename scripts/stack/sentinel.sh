#!/usr/bin/env bash
# Redis high availability for fault tests, from the machine's redis-server (no
# persistence): a primary (CDCV_REDIS_HA_PRIMARY_PORT), one replica of it
# (CDCV_REDIS_HA_REPLICA_PORT) and Sentinels (CDCV_REDIS_SENTINEL_PORTS) that
# monitor them as CDCV_REDIS_SENTINEL_NAME with a majority quorum, a 1 s
# down-after and a short failover-timeout, so failover tests are fast.
#   sentinel.sh start    start whatever of the set is not running, then wait until
#                        every Sentinel agrees on one primary (and, when something was
#                        started, until a replica is linked to it); prints one line
#   sentinel.sh launch   only the first half of start (up.sh: start runs later)
#   sentinel.sh stop     stop the Sentinels, then the Redis nodes (SIGTERM)
#   sentinel.sh status   one line; exit 0 when the Sentinels agree on a primary
#   sentinel.sh primary  host:port of the current primary, as the Sentinels say
# A failover is never undone: after one the primary may be the replica port.
# start only fills in what is missing (a restarted node joins as a replica of the
# current primary) and checks the Sentinels agree; with nothing of the set
# running, it starts fresh (primary on CDCV_REDIS_HA_PRIMARY_PORT).
# Called by up.sh, down.sh and status.sh. Data dirs in $CDCV_STACK_DIR/redis-ha,
# logs redis-ha-<port>.log / sentinel-<port>.log in $CDCV_STACK_DIR/logs.
# Settings (env.sh): CDCV_REDIS_HA_PRIMARY_PORT, CDCV_REDIS_HA_REPLICA_PORT,
# CDCV_REDIS_SENTINEL_PORTS, CDCV_REDIS_SENTINEL_NAME,
# CDCV_REDIS_SENTINEL_DOWN_AFTER_MS, CDCV_REDIS_SENTINEL_FAILOVER_TIMEOUT_MS,
# CDCV_STACK_TIMEOUT_S; derived CDCV_REDIS_SENTINELS.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/env.sh"

ha_dir="$CDCV_STACK_DIR/redis-ha"
name="$CDCV_REDIS_SENTINEL_NAME"
IFS=',' read -ra sentinel_ports <<<"$CDCV_REDIS_SENTINEL_PORTS"
data_ports=("$CDCV_REDIS_HA_PRIMARY_PORT" "$CDCV_REDIS_HA_REPLICA_PORT")
quorum=$(( ${#sentinel_ports[@]} / 2 + 1 ))
# Put into every process title; cdcv_our_pid checks it so a reused pid is not taken for ours.
marker=cdcv-redis-ha

rcli() { local port="$1"; shift; timeout 3 redis-cli -h 127.0.0.1 -p "$port" --raw "$@" 2>/dev/null; }
# Value of one field of a flat "key\nvalue\n..." reply (SENTINEL MASTER) or "key:value" (INFO).
field() { awk -v k="$1" 'prev == k { print; exit } { prev = $0 }'; }
info_field() { tr -d '\r' | sed -n "s/^$1:\(.*\)/\1/p"; }
pname() { if [[ $1 == sentinel ]]; then echo "sentinel-$2"; else echo "redis-ha-$2"; fi; }

# host:port of the primary: what the first answering Sentinel says, else the one
# running node that is a primary with replicas, else the configured primary.
current_primary() {
  local p addr
  for p in "${sentinel_ports[@]}"; do
    addr="$(rcli "$p" SENTINEL get-master-addr-by-name "$name" | paste -sd: -)" || continue
    [[ $addr =~ ^[^:]+:[0-9]+$ ]] && { echo "$addr"; return; }
  done
  for p in "${data_ports[@]}"; do
    [[ "$(rcli "$p" INFO replication | info_field role)" == master ]] &&
      (( $(rcli "$p" INFO replication | info_field connected_slaves) > 0 )) && { echo "127.0.0.1:$p"; return; }
  done
  echo "127.0.0.1:$CDCV_REDIS_HA_PRIMARY_PORT"
}

# Checks the set as the Sentinels see it. Returns 0 when every Sentinel in
# CDCV_REDIS_SENTINELS answers, all name the same primary (ha_primary) without
# down/failover flags and know each other, and the primary says it is one; else
# returns 1 with the reason in ha_why. Sets ha_linked to the replicas linked to
# that primary (may be none, e.g. for ~10 s after SENTINEL FAILOVER, until the
# Sentinels turn the old primary into a replica) and ha_summary to one line.
ha_check() {
  local s host port reply addr flags others primary="" n=0 want_others
  local -a sentinels
  IFS=',' read -ra sentinels <<<"$CDCV_REDIS_SENTINELS"
  want_others=$(( ${#sentinels[@]} - 1 ))
  ha_why="" ha_summary="" ha_primary="" ha_linked=""
  for s in "${sentinels[@]}"; do
    host="${s%:*}" port="${s##*:}"
    if ! reply="$(timeout 3 redis-cli -h "$host" -p "$port" --raw SENTINEL master "$name" 2>/dev/null)" || [[ -z $reply ]]; then
      ha_why="Sentinel $s not answering"; return 1
    fi
    [[ $reply == ERR* ]] && { ha_why="Sentinel $s: ${reply%%$'\n'*}"; return 1; }
    addr="$(field ip <<<"$reply"):$(field port <<<"$reply")"
    flags="$(field flags <<<"$reply")"
    # Other Sentinels this one sees up (num-other-sentinels also counts ones that are down).
    others="$(timeout 3 redis-cli -h "$host" -p "$port" --raw SENTINEL sentinels "$name" 2>/dev/null | grep -cx sentinel)" || true
    [[ -z $primary ]] && primary="$addr"
    [[ $addr == "$primary" ]] || { ha_why="Sentinels disagree on the primary ($primary vs $addr at $s)"; return 1; }
    [[ $flags == master ]] || { ha_why="Sentinel $s sees primary $addr as $flags"; return 1; }
    (( others >= want_others )) || { ha_why="Sentinel $s sees $others other Sentinels up, not $want_others yet"; return 1; }
    n=$((n + 1))
  done
  [[ "$(timeout 3 redis-cli -h "${primary%:*}" -p "${primary##*:}" --raw ROLE 2>/dev/null | head -n1)" == master ]] ||
    { ha_why="primary $primary (per the Sentinels) does not answer ROLE as master"; return 1; }
  # Replicas the first Sentinel knows ("ip:port flags" per line); whether one is
  # linked is asked of the replica itself (a Sentinel refreshes a replica's INFO
  # only every 10 s, so its master-link-status lags well behind a failover).
  local replicas r info
  replicas="$(timeout 3 redis-cli -h "${sentinels[0]%:*}" -p "${sentinels[0]##*:}" --raw SENTINEL replicas "$name" 2>/dev/null |
    awk 'prev == "ip" { ip = $0 } prev == "port" { port = $0 } prev == "flags" { print ip ":" port, $0 } { prev = $0 }')"
  while read -r r flags; do
    [[ $flags == slave ]] || continue
    info="$(timeout 3 redis-cli -h "${r%:*}" -p "${r##*:}" INFO replication 2>/dev/null | tr -d '\r')" || continue
    [[ $info == *$'\nrole:slave\n'* && $info == *$'\nmaster_link_status:up\n'* &&
       "$(info_field master_host <<<"$info"):$(info_field master_port <<<"$info")" == "$primary" ]] &&
      ha_linked="${ha_linked:+$ha_linked,}$r"
  done <<<"$replicas"
  local note=""
  [[ $primary == "127.0.0.1:$CDCV_REDIS_HA_PRIMARY_PORT" ]] || note=" (failed over)"
  ha_primary="$primary"
  ha_summary="$name primary $primary$note, replica ${ha_linked:-none} linked, $n Sentinels agree"
  local others_known
  others_known="$(awk -v linked=",$ha_linked," 'NF && index(linked, "," $1 ",") == 0 { print $1 " (" $2 ")" }' <<<"$replicas" | paste -sd, -)"
  [[ -z $others_known ]] || ha_summary="$ha_summary; not linked: $others_known"
  return 0
}

# What start waits for after launching something: ha_check and a linked replica
# (so a failover test can begin at once).
ha_ready() {
  ha_check || return 1
  [[ -n $ha_linked ]] || { ha_why="no replica linked to primary $ha_primary yet"; return 1; }
}

# Starts one redis-server in its own session (Ctrl-C in the calling terminal does
# not stop it), logging to stdout = its log file, with our marker in its process
# title, and records its pid.
launch() { # kind (node|sentinel), port, args...
  local kind="$1" port="$2"; shift 2
  local n; n="$(pname "$kind" "$port")"
  local log="$CDCV_LOG_DIR/$n.log"
  [[ -f $log ]] && (( $(stat -c %s "$log") > 50 * 1024 * 1024 )) && mv -f "$log" "$log.1"
  echo "===== $(date -Is) starting $n (scripts/stack/sentinel.sh) =====" >>"$log"
  setsid nohup redis-server "$@" --port "$port" --bind 127.0.0.1 --daemonize no \
    --proc-title-template "{title} {listen-addr} {server-mode} $marker" >>"$log" 2>&1 </dev/null &
  echo $! >"$CDCV_RUN_DIR/$n.pid"
}

# Starts whatever of the set is not running, without waiting; what it started is
# listed in run/redis-ha.launched until wait_ready has seen it come up.
launch_missing() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then cdcv_die "redis-server/redis-cli not found (needed for the Sentinel set): apt-get install redis-server redis-tools"; fi
  mkdir -p "$CDCV_LOG_DIR" "$CDCV_RUN_DIR" "$ha_dir"
  (( ${#sentinel_ports[@]} >= 1 )) || cdcv_die "CDCV_REDIS_SENTINEL_PORTS is empty; set it to a comma-separated list of ports"
  local p running=() missing=() started=()
  for p in "${data_ports[@]}"; do
    if cdcv_our_pid "$(pname node "$p")" "$marker" >/dev/null; then running+=("$p"); else missing+=("node:$p"); fi
  done
  for p in "${sentinel_ports[@]}"; do
    if cdcv_our_pid "$(pname sentinel "$p")" "$marker" >/dev/null; then running+=("$p"); else missing+=("sentinel:$p"); fi
  done

  if (( ${#missing[@]} > 0 )); then
    # Nothing running: a fresh set on the configured ports. Else fill in around
    # the current primary, whichever node that is after earlier failovers.
    local primary="127.0.0.1:$CDCV_REDIS_HA_PRIMARY_PORT"
    (( ${#running[@]} == 0 )) || primary="$(current_primary)"
    local m kind
    for m in "${missing[@]}"; do
      kind="${m%%:*}" p="${m#*:}"
      if [[ $kind == node ]]; then
        cdcv_require_free_port "$p" "Redis HA node" "CDCV_REDIS_HA_PRIMARY_PORT/CDCV_REDIS_HA_REPLICA_PORT"
      else
        cdcv_require_free_port "$p" "Redis Sentinel" CDCV_REDIS_SENTINEL_PORTS
      fi
    done
    for m in "${missing[@]}"; do  # data nodes first: Sentinels connect to the primary at once
      kind="${m%%:*}" p="${m#*:}"
      [[ $kind == node ]] || continue
      mkdir -p "$ha_dir/$p"
      local role_args=()
      [[ "127.0.0.1:$p" == "$primary" ]] || role_args=(--replicaof "${primary%:*}" "${primary##*:}")
      # No persistence; no 5 s wait before the full sync a new replica needs.
      launch node "$p" --dir "$ha_dir/$p" --save '' --appendonly no --repl-diskless-sync-delay 0 "${role_args[@]}"
      started+=("$(pname node "$p")")
    done
    for m in "${missing[@]}"; do
      kind="${m%%:*}" p="${m#*:}"
      [[ $kind == sentinel ]] || continue
      # A Sentinel rewrites its config file with what it learns (other Sentinels,
      # replicas, epochs); a fresh one learns the rest from the running ones.
      # It keeps its id, so the running ones take it for the one they knew.
      local conf="$ha_dir/sentinel-$p/sentinel.conf" myid=""
      mkdir -p "$ha_dir/sentinel-$p"
      (( ${#running[@]} == 0 )) || myid="$(sed -n 's/^sentinel myid \([0-9a-f]\{40\}\)$/sentinel myid \1/p' "$conf" 2>/dev/null)" || true
      cat >"$conf" <<EOF
# Generated by scripts/stack/sentinel.sh; the Sentinel rewrites this file at run time.
$myid
sentinel monitor $name ${primary%:*} ${primary##*:} $quorum
sentinel down-after-milliseconds $name $CDCV_REDIS_SENTINEL_DOWN_AFTER_MS
sentinel failover-timeout $name $CDCV_REDIS_SENTINEL_FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $name 1
EOF
      launch sentinel "$p" "$conf" --sentinel --dir "$ha_dir/sentinel-$p"
      started+=("$(pname sentinel "$p")")
    done
    printf '%s\n' "${started[@]}" >>"$CDCV_RUN_DIR/redis-ha.launched"
  fi
}

# Waits until the set is usable and prints the stack summary line (up.sh collects it).
wait_ready() {
  local started=()
  [[ -f $CDCV_RUN_DIR/redis-ha.launched ]] && mapfile -t started <"$CDCV_RUN_DIR/redis-ha.launched"
  # What was started must come up fully; a set that was running is only checked
  # for agreement on a primary (never repaired: Sentinels own the topology).
  local t0=$SECONDS deadline=$((SECONDS + CDCV_STACK_TIMEOUT_S)) n check=ha_check
  (( ${#started[@]} == 0 )) || check=ha_ready
  until $check; do
    for n in "${started[@]}"; do
      kill -0 "$(cat "$CDCV_RUN_DIR/$n.pid")" 2>/dev/null ||
        cdcv_die "$n exited during start-up ($(grep -E '#|ERR|rror' "$CDCV_LOG_DIR/$n.log" | tail -n1 | cut -c1-200)); see $(cdcv_rel "$CDCV_LOG_DIR/$n.log")"
    done
    (( SECONDS < deadline )) ||
      cdcv_die "Redis Sentinel set $name not ready within ${CDCV_STACK_TIMEOUT_S}s: $ha_why; see $(cdcv_rel "$CDCV_LOG_DIR")/sentinel-*.log, or reset it with scripts/stack/sentinel.sh stop && scripts/stack/sentinel.sh start"
    sleep 0.2
  done
  rm -f "$CDCV_RUN_DIR/redis-ha.launched"
  local status="up"
  (( ${#started[@]} == 0 )) || status="up (started ${started[*]}, ready in $((SECONDS - t0))s)"
  printf '%-9s %-28s %s' sentinel "$CDCV_REDIS_SENTINELS" "$status: $ha_summary"
}

stop() {
  local p
  # Sentinels first: stopping the primary under running Sentinels would fail it over.
  for p in "${sentinel_ports[@]}"; do cdcv_stop "$(pname sentinel "$p")" "$marker"; done
  for p in "${data_ports[@]}"; do cdcv_stop "$(pname node "$p")" "$marker"; done
  rm -f "$CDCV_RUN_DIR/redis-ha.launched"
}

status() {
  local pids=() p pid
  for p in "${data_ports[@]}"; do pid="$(cdcv_our_pid "$(pname node "$p")" "$marker")" && pids+=("$p=$pid"); done
  for p in "${sentinel_ports[@]}"; do pid="$(cdcv_our_pid "$(pname sentinel "$p")" "$marker")" && pids+=("$p=$pid"); done
  local pid_note=""
  (( ${#pids[@]} == 0 )) || pid_note=" (pids ${pids[*]})"
  if ha_check; then
    printf '%-9s %-28s %s\n' sentinel "$CDCV_REDIS_SENTINELS" "up: $ha_summary$pid_note"
  else
    printf '%-9s %-28s %s\n' sentinel "$CDCV_REDIS_SENTINELS" "DOWN: $ha_why$pid_note"; return 1
  fi
}

case "${1:-}" in
  launch) launch_missing ;;
  start) launch_missing; wait_ready ;;
  stop) stop ;;
  status) status ;;
  primary) ha_check || cdcv_die "Sentinels of $name not consistent: $ha_why"; echo "$ha_primary" ;;
  -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) cdcv_die "usage: sentinel.sh start|launch|stop|status|primary" ;;
esac
