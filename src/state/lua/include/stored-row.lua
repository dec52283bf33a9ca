--[[
  include stored-row: the stored-row encoding, shared by every script that
  reads or writes table state (TypeScript side: src/state/encoding.ts).

  A table hash field holds "<version>\n<row JSON>", or "<version>\n" for a
  delete marker (the row is gone, its version stays so that an older replayed
  event cannot resurrect it).
]]
-- The version part of a stored value (a string), or nil for no value (false from redis.call).
local function stored_version(value)
  if not value then return nil end
  return string.sub(value, 1, string.find(value, '\n', 1, true) - 1)
end

-- The stored form of a version and a payload (row JSON, or '' for a delete marker).
local function encode_stored(version, payload)
  return version .. '\n' .. payload
end

-- True when `version` is newer than `stored` (a stored version string, or nil for none).
-- Versions are decimal strings of non-negative integers below 2^53.
local function version_newer(version, stored)
  if stored == nil then return true end
  return tonumber(version) > tonumber(stored)
end
