--[[
  include stored-row: the stored-row encoding, shared by every script that
  reads or writes table state (TypeScript side: src/state/encoding.ts).

  A table hash field holds three lines:
    <version>\n<origin>\n<payload>
  version  the source version of the change that wrote it: a fixed-width
           string, so versions compare as strings (never as Lua numbers,
           which are doubles and would round 64-bit positions);
  origin   "<partition>:<offset>" of the change's record in the table's topic
           (what rewind compares with its target offsets);
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

-- True when `version` is newer than `stored` (a stored version, or nil for none).
local function version_newer(version, stored)
  return stored == nil or version > stored
end

-- Redis' clock, in ms since the epoch.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
