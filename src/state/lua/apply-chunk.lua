--[[
  apply-chunk: apply one partition's compacted chunk to table state,
  atomically with that partition's new position (docs/architecture.md, "The
  commit order").

  KEYS[1]  positions hash   field "<topic>:<partition>" -> next offset to consume
  KEYS[2]  epochs hash      field "<topic>:<partition>" -> owner epoch
  KEYS[3]  stats hash       counters "applied:<table>", "stale:<table>"
  KEYS[4]  tables set       ids of the tables that have state
  KEYS[5]  position stamps  field "<topic>:<partition>" -> timestamp (ms) of the record just
                            before the stored position: tells a re-created topic from the same one
  KEYS[6…] table hashes and dirty hashes, referenced by index from ARGV

  ARGV[1]  partition field "<topic>:<partition>"
  ARGV[2]  the caller's owner epoch
  ARGV[3]  the position the chunk starts from, as the caller read it ("" = none stored)
  ARGV[4]  new position (offset after the chunk's last record)
  ARGV[5]  the timestamp of the record just before the new position ("" = unknown: removed)
  ARGV[6]  n, the number of writes; then n groups of 10:
           table key index, dirty key index (0 = none), incomplete key index,
           table id, key string, version, origin "<incarnation>:<partition>:<offset>",
           payload (row JSON; "" = delete),
           basis: the stored version the caller merged the payload with
           ("" = none; the write then applies only if that is still the stored version),
           incomplete: JSON list of the columns the row lacks ("" = complete);
           then optionally m, the number of extra stat increments, and m pairs
           (stats field, count): counted with the chunk, once (e.g. "backfill:<table>",
           the incremental-snapshot reads the chunk consumed)

  A write applies when its version is newer than the stored one (see
  version_newer in include/stored-row.lua) and its basis still holds. An applied
  write of a table with views also marks its key dirty with its version,
  unless its row equals the stored row (an incremental-snapshot read, or an
  UPDATE that set the same values): the stored version moves on, nothing is
  marked, no view re-renders (counted as "unchanged:<table>"). A
  delete is stored as a delete marker carrying the time of the delete. An
  applied incomplete row is listed in the table's incomplete hash; an applied
  complete row or delete removes the key from it.

  Returns {applied, stale, flags, unchanged}: flags has one character per
  write, "1" applied, "=" applied with the stored row unchanged (not marked),
  "0" stale (not newer), "b" basis changed (not applied; merge again).
  Errors, with nothing written:
    "FENCED <stored epoch|none>"     the caller's epoch is not the partition's owner epoch;
    "POSITION <stored position|none>" the stored position is not the one the
                                     chunk starts from: Redis went back in time
                                     (failover to a lagging replica, an older
                                     AOF/RDB), or another writer moved it.
]]
--@include stored-row

local field = ARGV[1]
local stored_epoch = redis.call('HGET', KEYS[2], field)
if stored_epoch ~= ARGV[2] then
  return redis.error_reply('FENCED ' .. (stored_epoch or 'none'))
end
local stored_position = redis.call('HGET', KEYS[1], field)
if (stored_position or '') ~= ARGV[3] then
  return redis.error_reply('POSITION ' .. (stored_position or 'none'))
end

local n = tonumber(ARGV[6])
local applied, stale = 0, 0
local flags = {}
local per_table_applied, per_table_stale, per_table_unchanged = {}, {}, {}
local unchanged = 0
local deleted_at = nil
-- Per incomplete hash: whether it exists (checked once per chunk: most tables never have one).
local incomplete_exists = {}
local i = 7
for w = 1, n do
  local tkey = KEYS[tonumber(ARGV[i])]
  local dindex = tonumber(ARGV[i + 1])
  local ikey = KEYS[tonumber(ARGV[i + 2])]
  local tname, key, version, origin, payload, basis, incomplete = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8], ARGV[i + 9]
  i = i + 10
  local stored_value = redis.call('HGET', tkey, key)
  local current = stored_version(stored_value)
  if not version_newer(version, origin, stored_value) then
    flags[w] = '0'
    stale = stale + 1
    per_table_stale[tname] = (per_table_stale[tname] or 0) + 1
  elseif basis ~= '' and basis ~= current then
    flags[w] = 'b'
  else
    local same = payload ~= '' and stored_value and stored_payload(stored_value) == payload
    if payload == '' then
      deleted_at = deleted_at or now_ms()
      payload = '~' .. deleted_at
    end
    redis.call('HSET', tkey, key, encode_stored(version, origin, payload))
    if same then
      -- Same content under a newer version: keep the version moving, render nothing.
      flags[w] = '='
      unchanged = unchanged + 1
      per_table_unchanged[tname] = (per_table_unchanged[tname] or 0) + 1
    elseif dindex > 0 then redis.call('HSET', KEYS[dindex], key, version) end
    if incomplete ~= '' then
      redis.call('HSET', ikey, key, incomplete)
      incomplete_exists[ikey] = true
    else
      if incomplete_exists[ikey] == nil then incomplete_exists[ikey] = redis.call('EXISTS', ikey) == 1 end
      if incomplete_exists[ikey] then redis.call('HDEL', ikey, key) end
    end
    if not same then
      flags[w] = '1'
      applied = applied + 1
      per_table_applied[tname] = (per_table_applied[tname] or 0) + 1
    end
  end
end

for t, c in pairs(per_table_applied) do
  redis.call('HINCRBY', KEYS[3], 'applied:' .. t, c)
  redis.call('SADD', KEYS[4], t)
end
for t, c in pairs(per_table_stale) do redis.call('HINCRBY', KEYS[3], 'stale:' .. t, c) end
for t, c in pairs(per_table_unchanged) do redis.call('HINCRBY', KEYS[3], 'unchanged:' .. t, c) end
local m = tonumber(ARGV[i] or '0')
for s = 1, m do redis.call('HINCRBY', KEYS[3], ARGV[i + 2 * s - 1], ARGV[i + 2 * s]) end
redis.call('HSET', KEYS[1], field, ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[5], field, ARGV[5]) else redis.call('HDEL', KEYS[5], field) end
return {applied, stale, table.concat(flags), unchanged}
