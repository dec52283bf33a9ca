--[[
  render-read: read a view's inputs and take render sequence numbers in one
  atomic step (DESIGN.md "Views without the dual-write race"). Two renders of
  one document are therefore totally ordered by their sequence numbers.

  KEYS[1]  table hash (see apply-batch.lua for the stored value format)
  KEYS[2]  the view's sequence counter (a string key)
  ARGV     key strings

  Returns {last sequence, value 1, value 2, …}; the i-th key's sequence is
  last - #ARGV + i; a missing value is returned as false.
]]
local out = { redis.call('INCRBY', KEYS[2], #ARGV) }
for i = 1, #ARGV do
  out[i + 1] = redis.call('HGET', KEYS[1], ARGV[i])
end
return out
