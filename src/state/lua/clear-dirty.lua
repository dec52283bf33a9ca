--[[
  clear-dirty: remove view roots from a view's dirty hash once their
  documents are written, but only those no newer change marked again
  meanwhile (the mark is a counter that propagate increments).

  KEYS[1]  the view's dirty hash: root -> counter
  ARGV     pairs: root, counter that was read before rendering
  Returns the number of roots removed.
]]
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
return removed
