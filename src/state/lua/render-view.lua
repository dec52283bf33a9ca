--[[
  render-view: read everything a view needs for some roots and take their
  render sequence numbers, in one atomic step (docs/architecture.md, "Views
  without the dual-write race"); maintain the join reverse indexes in the same
  step, so a later change of a joined row always finds the roots that read it.

  KEYS[1]  the view's sequence counter
  KEYS[2]  root table hash (a group root: the member table hash, not read)
  then     per join j = 1..J, 3 keys: joined table hash, foreign-key hash
           (root -> joined key it read), reverse-index zset ("<joined key>\0<root>")
  then     per roll-up r = 1..R, 2 keys: child table hash, members zset
           ("<root>\0<member>"); a group root's members come first as a roll-up

  ARGV[1]  "1" when the view has a table root, "0" for a group root
  ARGV[2]  J; ARGV[3] R; ARGV[4] N, the number of roots; then per root:
           root key, expected stored root version ("" = absent, "*" = do
           not check), then J joined keys ("" = none)

  For each root: when the stored root version differs from the expected one,
  {0} (the caller re-reads and retries). Otherwise {1, seq, stored root value
  or false, J stored joined values or false, then per roll-up the number of
  members followed by (member key, stored value or false) pairs}.

  Render sequences are hybrid clocks: max(previous + 1, Redis' time in µs).
  They grow strictly per view, and never go back even when Redis itself goes
  back in time (a failover to a lagging replica restores an older counter, not
  an older clock), so sinks never refuse a re-render as older. Redis' clock
  must not lag the previous primary's by more than the failover took.
]]
--@include stored-row

local SEP = '\0'
local has_root = ARGV[1] == '1'
local njoins, nroll, nroots = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local function members_of(zset, root)
  local from = root .. SEP
  local out = redis.call('ZRANGEBYLEX', zset, '[' .. from, '(' .. root .. '\1')
  for m = 1, #out do out[m] = string.sub(out[m], #from + 1) end
  return out
end

local function next_seq()
  local t = redis.call('TIME')
  local clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local seq = math.max((tonumber(redis.call('GET', KEYS[1])) or 0) + 1, clock)
  redis.call('SET', KEYS[1], string.format('%.0f', seq))
  return seq
end

local out = {}
local i = 5
for n = 1, nroots do
  local root, expected = ARGV[i], ARGV[i + 1]
  i = i + 2
  local rootval = false
  if has_root then rootval = redis.call('HGET', KEYS[2], root) end
  if expected ~= '*' and (stored_version(rootval) or '') ~= expected then
    out[n] = {0}
    i = i + njoins
  else
    local res = {1, 0, rootval}
    for j = 1, njoins do
      local base = 3 + 3 * (j - 1)
      local fk = ARGV[i]
      i = i + 1
      local old = redis.call('HGET', KEYS[base + 1], root)
      if old ~= (fk ~= '' and fk or false) then
        if old then redis.call('ZREM', KEYS[base + 2], old .. SEP .. root) end
        if fk ~= '' then
          redis.call('ZADD', KEYS[base + 2], 0, fk .. SEP .. root)
          redis.call('HSET', KEYS[base + 1], root, fk)
        else
          redis.call('HDEL', KEYS[base + 1], root)
        end
      end
      res[#res + 1] = fk ~= '' and redis.call('HGET', KEYS[base], fk) or false
    end
    for r = 1, nroll do
      local base = 3 + 3 * njoins + 2 * (r - 1)
      local members = members_of(KEYS[base + 1], root)
      res[#res + 1] = #members
      -- HMGET in chunks: unpack() of very large lists would overflow Lua's C stack.
      for c = 1, #members, 1000 do
        local chunk = {}
        for m = c, math.min(c + 999, #members) do chunk[#chunk + 1] = members[m] end
        local values = redis.call('HMGET', KEYS[base], unpack(chunk))
        for m = 1, #chunk do
          res[#res + 1] = chunk[m]
          res[#res + 1] = values[m]
        end
      end
    end
    res[2] = next_seq()
    out[n] = res
  end
end
return out
