--[[
  clone-state: copy a live application's table state together with its stored
  positions into a new application's namespace, in one atomic step, so the
  copy is one consistent snapshot: every table hash holds exactly the effects
  of the records before the copied positions (apply-chunk writes a chunk and
  its position atomically, and no chunk can run in the middle of this script).

  KEYS[1]  source tables set      KEYS[2]  source positions hash
  KEYS[3]  target tables set      KEYS[4]  target positions hash
  KEYS[5…] pairs: source table hash, target table hash (one per table)
  ARGV     the table names, in the order of the pairs

  Copies the table hashes, the tables set and the positions with COPY
  (Redis >= 6.2); not epochs, dirty marks, view indexes or stats (the new
  application builds its own). Redis is blocked while it runs: about the time
  to copy the state in memory.
  Returns {tables copied, positions copied}; the error "TARGET_EXISTS" when
  the target has positions or tables; "TABLES_CHANGED" when the source's
  tables set is not exactly ARGV (a table appeared since the caller read it:
  read it again and retry).
]]
if redis.call('EXISTS', KEYS[4]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('TARGET_EXISTS')
end
if redis.call('SCARD', KEYS[1]) ~= #ARGV then return redis.error_reply('TABLES_CHANGED') end
for t = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[t]) == 0 then return redis.error_reply('TABLES_CHANGED') end
  if redis.call('EXISTS', KEYS[4 + 2 * t]) == 1 then return redis.error_reply('TARGET_EXISTS') end
end
local tables = 0
for t = 1, #ARGV do
  tables = tables + redis.call('COPY', KEYS[3 + 2 * t], KEYS[4 + 2 * t])
end
redis.call('COPY', KEYS[1], KEYS[3])
redis.call('COPY', KEYS[2], KEYS[4])
return {tables, redis.call('HLEN', KEYS[4])}
