--[[
  fan-out: mark the next page of the roots that read a joined key (the
  continuation of propagate.lua's kind "j", for keys read by more roots than
  one page), so no single script walks every reader of a hot key.

  KEYS[1]  the join's reverse index (zset of "<joined key>\0<root>", all scores 0)
  KEYS[2]  the view's dirty hash: root -> counter
  ARGV[1]  the last member marked ("<joined key>\0<root>"): marking resumes after it
  ARGV[2]  the joined key
  ARGV[3]  page: at most this many roots are marked
  Returns the roots marked, in order; as many as the page: there may be more.
]]
local key = ARGV[2]
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], '(' .. ARGV[1], '(' .. key .. '\1', 'LIMIT', 0, tonumber(ARGV[3]))) do
  local root = string.sub(m, #key + 2)
  redis.call('HINCRBY', KEYS[2], root, 1)
  out[#out + 1] = root
end
return out
