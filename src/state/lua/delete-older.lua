--[[
  delete-older: turn the live rows of one page of a table whose version is
  older than a given version into delete markers of that version, and mark
  them for propagation. Used for
  - a truncate: every row older than the truncate goes (rows of other
    partitions written after it stay);
  - the end of a new snapshot: a row the snapshot did not re-read (its
    version is older than the snapshot's) was deleted while no change could
    be captured (a re-created topic, a connector re-created without its slot).
  The caller pages through the table with HSCAN, so Redis is never blocked
  for long; the condition is re-checked per row, so a newer write racing the
  sweep always wins.

  KEYS[1]  the table hash
  KEYS[2]  the table's dirty hash, or the table hash again when the table
           has no views (then nothing is marked)
  KEYS[3]  the table's incomplete hash
  ARGV[1]  the version of the deleting event
  ARGV[2]  its origin "<partition>:<offset>"
  ARGV[3]  "1" to mark deleted keys dirty, "0" not to
  ARGV[4…] key strings

  Returns the number of rows turned into delete markers.
]]
--@include stored-row

local version, origin, mark = ARGV[1], ARGV[2], ARGV[3] == '1'
local deleted, at = 0, nil
for i = 4, #ARGV do
  local key = ARGV[i]
  local value = redis.call('HGET', KEYS[1], key)
  if value and not is_delete_marker(value) and version_newer(version, stored_version(value)) then
    at = at or now_ms()
    redis.call('HSET', KEYS[1], key, encode_stored(version, origin, '~' .. at))
    redis.call('HDEL', KEYS[3], key)
    if mark then redis.call('HSET', KEYS[2], key, version) end
    deleted = deleted + 1
  end
end
return deleted
