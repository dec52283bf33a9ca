--[[
  apply-chunk: apply one partition's compacted chunk to table state,
  atomically with that partition's new position (docs/architecture.md, "The
  commit order").

  KEYS[1]  positions hash   field "<topic>:<partition>" -> next offset to consume
  KEYS[2]  epochs hash      field "<topic>:<partition>" -> owner epoch
  KEYS[3]  stats hash       counters "applied:<table>", "stale:<table>"
  KEYS[4]  tables set       names of the tables that have state
  KEYS[5…] table hashes and dirty hashes, referenced by index from ARGV

  ARGV[1]  partition field "<topic>:<partition>"
  ARGV[2]  the caller's owner epoch
  ARGV[3]  new position (offset after the last record of the chunk)
  ARGV[4]  n, the number of writes; then n groups of 6:
           table key index, dirty key index (0 = none), table name,
           key string, version, payload (row JSON; "" = delete)

  A write whose version is not newer than the stored one is skipped (stale).
  An applied write of a table with views also marks its key dirty (version).

  Returns {applied, stale}, or the error "FENCED <stored epoch>" when the
  caller's epoch is not the partition's current owner epoch (nothing written).
]]
--@include stored-row

local field = ARGV[1]
local stored_epoch = redis.call('HGET', KEYS[2], field)
if stored_epoch ~= ARGV[2] then
  return redis.error_reply('FENCED ' .. tostring(stored_epoch))
end

local n = tonumber(ARGV[4])
local applied, stale = 0, 0
local per_table_applied, per_table_stale = {}, {}
local i = 5
for _ = 1, n do
  local tkey = KEYS[tonumber(ARGV[i])]
  local dindex = tonumber(ARGV[i + 1])
  local tname, key, version, payload = ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  i = i + 6
  if version_newer(version, stored_version(redis.call('HGET', tkey, key))) then
    redis.call('HSET', tkey, key, encode_stored(version, payload))
    if dindex > 0 then redis.call('HSET', KEYS[dindex], key, version) end
    applied = applied + 1
    per_table_applied[tname] = (per_table_applied[tname] or 0) + 1
  else
    stale = stale + 1
    per_table_stale[tname] = (per_table_stale[tname] or 0) + 1
  end
end

for t, c in pairs(per_table_applied) do
  redis.call('HINCRBY', KEYS[3], 'applied:' .. t, c)
  redis.call('SADD', KEYS[4], t)
end
for t, c in pairs(per_table_stale) do redis.call('HINCRBY', KEYS[3], 'stale:' .. t, c) end
redis.call('HSET', KEYS[1], field, ARGV[3])
return {applied, stale}
