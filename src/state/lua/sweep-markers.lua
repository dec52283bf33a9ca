--[[
  sweep-markers: remove delete markers older than their retention from one
  page of a table (the caller pages through the table with HSCAN, so Redis
  is never blocked for long).

  KEYS[1]  the table hash
  ARGV[1]  cut-off, ms since the epoch: markers of rows deleted before it go
  ARGV[2…] pairs: key string, the stored version the caller read

  A field is removed only when it still holds a delete marker of that version
  deleted before the cut-off (a newer write meanwhile is left alone).
  Returns the number of markers removed.
]]
--@include stored-row

local cutoff = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV, 2 do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  if value and stored_version(value) == ARGV[i + 1] and is_delete_marker(value) then
    local deleted_at = tonumber(string.sub(stored_payload(value), 2))
    if deleted_at and deleted_at < cutoff then
      redis.call('HDEL', KEYS[1], ARGV[i])
      removed = removed + 1
    end
  end
end
return removed
