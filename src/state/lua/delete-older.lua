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
  KEYS[4]  the epochs hash (mode "newer": the deleting event's partition is fenced)
  ARGV[1]  the version of the deleting event
  ARGV[2]  its origin "<incarnation>:<partition>:<offset>"
  ARGV[3]  "1" to mark deleted keys dirty, "0" not to
  ARGV[4]  mode: "newer" deletes a live row the deleting event is newer than
           (version_newer: a truncate); "cas" deletes a live row whose stored
           version is still the one the caller read (the caller decided: a
           snapshot's reconciliation)
  ARGV[5]  mode "newer": the partition field "<topic>:<partition>" and ARGV[6]
           the caller's owner epoch (refused with "FENCED <stored|none>" when
           stale, like apply-chunk); mode "cas": unused ("")
  ARGV[7…] key strings ("newer"), or pairs: key string, stored version read ("cas")

  Returns the keys turned into delete markers.
]]
--@include stored-row

local version, origin, mark, cas = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4] == 'cas'
if not cas then
  local stored_epoch = redis.call('HGET', KEYS[4], ARGV[5])
  if stored_epoch ~= ARGV[6] then return redis.error_reply('FENCED ' .. (stored_epoch or 'none')) end
end
local step = cas and 2 or 1
local deleted, at = {}, nil
for i = 7, #ARGV, step do
  local key = ARGV[i]
  local value = redis.call('HGET', KEYS[1], key)
  local older
  if cas then older = value and stored_version(value) == ARGV[i + 1]
  else older = value and version_newer(version, origin, value) end
  if value and not is_delete_marker(value) and older then
    at = at or now_ms()
    redis.call('HSET', KEYS[1], key, encode_stored(version, origin, '~' .. at))
    redis.call('HDEL', KEYS[3], key)
    if mark then redis.call('HSET', KEYS[2], key, version) end
    deleted[#deleted + 1] = key
  end
end
return deleted
