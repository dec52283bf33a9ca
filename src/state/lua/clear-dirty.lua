--[[
  clear-dirty: remove keys from a dirty-key hash once their views are written,
  but only when no newer change marked them again meanwhile.

  KEYS[1]  dirty hash: key string -> version of the change that marked it
  ARGV     pairs: key string, version that was rendered
  Returns the number of keys removed.
]]
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
return removed
