--[[
  clone-state: copy a live application's table state together with its stored
  positions into a new application's namespace, in one atomic step, so the
  copy is one consistent snapshot: every table hash holds exactly the effects
  of the records before the copied positions (apply-batch writes a batch and
  its position atomically, and no batch can run in the middle of this script).

  KEYS     none (single Redis node; the keys are found with SCAN)
  ARGV[1]  source prefix "cdcv:<live app>:"
  ARGV[2]  target prefix "cdcv:<new app>:"

  Copies <src>t:* and <src>positions with COPY (Redis ≥ 6.2); not epochs,
  dirty marks, view indexes or stats (the new application builds its own).
  Redis is blocked while it runs: about the time to copy the state in memory.
  Returns {tables copied, positions copied}, or the error "TARGET_EXISTS"
  when the target already has positions or tables.
]]
local src, dst = ARGV[1], ARGV[2]
if redis.call('EXISTS', dst .. 'positions') == 1 then return redis.error_reply('TARGET_EXISTS') end
if #redis.call('SCAN', '0', 'MATCH', dst .. 't:*', 'COUNT', 1000)[2] > 0 then return redis.error_reply('TARGET_EXISTS') end
local tables = 0
local cursor = '0'
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', src .. 't:*', 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    tables = tables + redis.call('COPY', k, dst .. string.sub(k, #src + 1))
  end
until cursor == '0'
redis.call('COPY', src .. 'positions', dst .. 'positions')
return {tables, redis.call('HLEN', dst .. 'positions')}
