--[[
  include stored-row: the stored-row encoding, shared by every script that
  reads or writes table state (TypeScript side: src/state/encoding.ts).

  A table hash field holds three lines:
    <version>\n<origin>\n<payload>
  version  the source version of the change that wrote it: a fixed-width
           string, so versions compare as strings (never as Lua numbers,
           which are doubles and would round 64-bit positions);
  origin   "<incarnation>:<partition>:<offset>" of the change's record in the
           table's topic (incarnation: how many times the topic was found
           re-created; rewind compares offsets with its targets, and the
           version compare falls back on Kafka order where the source
           positions cannot decide);
  payload  the row JSON, or "~<ms>" for a delete marker: the row is gone, its
           version stays (so an older replayed event cannot resurrect it)
           until the marker's retention, counted from <ms>, the time of the
           delete (ms since the epoch, Redis' clock).
]]
-- The version part of a stored value, or nil for no value (false from redis.call).
local function stored_version(value)
  if not value then return nil end
  return string.sub(value, 1, string.find(value, '\n', 1, true) - 1)
end

-- The stored form of a change.
local function encode_stored(version, origin, payload)
  return version .. '\n' .. origin .. '\n' .. payload
end

-- The payload part of a stored value.
local function stored_payload(value)
  local first = string.find(value, '\n', 1, true)
  return string.sub(value, string.find(value, '\n', first + 1, true) + 1)
end

-- True when a stored value is a delete marker.
local function is_delete_marker(value)
  return string.sub(stored_payload(value), 1, 1) == '~'
end

-- The origin part of a stored value.
local function stored_origin(value)
  local first = string.find(value, '\n', 1, true)
  return string.sub(value, first + 1, string.find(value, '\n', first + 1, true) - 1)
end

-- "<incarnation>:<partition>:<offset>" -> incarnation, partition, offset (all numbers; nil when not an origin).
local function parse_origin(origin)
  local i, p, o = string.match(origin, '^(%d+):(%d+):(%d+)$')
  if not i then return nil end
  return tonumber(i), tonumber(p), tonumber(o)
end

--[[
  True when a change (`version` written at `origin`) replaces the stored
  value (false from redis.call = none). Versions compare as strings (they are
  fixed-width; src/cdc/source-position.ts gives the rules), except for the one
  PostgreSQL case the source positions cannot decide: a snapshot read at S
  against a change whose positions (previous commit P, own LSN L; version
  "P" .. A(20) .. class .. B(20) .. digit, class 0 = snapshot read, 1/2 =
  change) are both below S: the change may have committed before S (older)
  or after (a transaction open across the snapshot's start: newer). Debezium
  writes a snapshot before what it streams after it, so within one topic
  incarnation and partition the later record wins; otherwise the incoming one
  (the later incarnation, or a key that moved partitions).
]]
local function version_newer(version, origin, stored_value)
  if not stored_value then return true end
  local stored = stored_version(stored_value)
  if string.sub(version, 1, 1) == 'P' and string.sub(stored, 1, 1) == 'P' then
    local ca, cb = string.sub(version, 22, 22), string.sub(stored, 22, 22)
    local incoming_change = ca == '1' or ca == '2'
    local stored_change = cb == '1' or cb == '2'
    if (ca == '0' and stored_change) or (cb == '0' and incoming_change) then
      local change, read = version, stored
      if not incoming_change then change, read = stored, version end
      local p, l = string.sub(change, 2, 21), string.sub(change, 23, 42)
      if (p > l and p or l) >= string.sub(read, 2, 21) then return incoming_change end
      local ii, ip, io = parse_origin(origin)
      local si, sp, so = parse_origin(stored_origin(stored_value))
      if ii and si and ii == si and ip == sp then return io > so end
      if ii and si and ii ~= si then return ii > si end
      return true
    end
  end
  return version > stored
end

-- Redis' clock, in ms since the epoch.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
