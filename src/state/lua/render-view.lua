--[[
  render-view: read everything a view needs for some roots and take their
  render sequence numbers, in one atomic step (DESIGN.md "Views without the
  dual-write race"); maintain the join reverse indexes in the same step, so
  a later change of a joined row always finds the roots that read it.

  KEYS     none (single Redis node; keys are built from the names below)
  ARGV[1]  view key prefix "cdcv:<app>:v:<view>:"
  ARGV[2]  the view's sequence counter key
  ARGV[3]  root table hash ("" for a group root)
  ARGV[4]  number of joins J; then J join table hashes
  then     number of roll-ups R; then R pairs: child table hash, op index
           (a group root's members are roll-up op index "g")
  then     number of roots N; then per root: root key, expected root version
           ("" = none/absent, or "*" = do not check), then J join keys ("" = none),
           each preceded by its op index

  For each root: when the root table's stored version differs from the
  expected one, {0} (the caller re-reads and retries). Otherwise
  {1, seq, root value or false, J joined values or false, then per roll-up
  the number of children followed by (child key, stored value or false) pairs}.
]]
local vp, seqkey, roottable = ARGV[1], ARGV[2], ARGV[3]
local i = 4
local njoins = tonumber(ARGV[i]); i = i + 1
local jtables = {}
for j = 1, njoins do jtables[j] = ARGV[i]; i = i + 1 end
local nroll = tonumber(ARGV[i]); i = i + 1
local rtables, rops = {}, {}
for r = 1, nroll do rtables[r] = ARGV[i]; rops[r] = ARGV[i + 1]; i = i + 2 end

local function version_of(v)
  if not v then return '' end
  return string.sub(v, 1, string.find(v, '\n', 1, true) - 1)
end

local out = {}
local nroots = tonumber(ARGV[i]); i = i + 1
for n = 1, nroots do
  local root, expected = ARGV[i], ARGV[i + 1]
  i = i + 2
  local rootval = false
  if roottable ~= '' then rootval = redis.call('HGET', roottable, root) end
  if expected ~= '*' and version_of(rootval) ~= expected then
    out[n] = {0}
    i = i + 2 * njoins
  else
    local res = {1, 0, rootval}
    for j = 1, njoins do
      local op, fk = ARGV[i], ARGV[i + 1]
      i = i + 2
      local fkhash = vp .. 'fk:' .. op
      local old = redis.call('HGET', fkhash, root)
      if old ~= (fk ~= '' and fk or false) then
        if old then redis.call('SREM', vp .. 'rev:' .. op .. ':' .. old, root) end
        if fk ~= '' then
          redis.call('SADD', vp .. 'rev:' .. op .. ':' .. fk, root)
          redis.call('HSET', fkhash, root, fk)
        else
          redis.call('HDEL', fkhash, root)
        end
      end
      res[#res + 1] = fk ~= '' and redis.call('HGET', jtables[j], fk) or false
    end
    for r = 1, nroll do
      local members = redis.call('SMEMBERS', vp .. 'mem:' .. rops[r] .. ':' .. root)
      res[#res + 1] = #members
      -- HMGET in chunks: unpack() of very large lists would overflow Lua's C stack.
      for c = 1, #members, 1000 do
        local chunk = {}
        for m = c, math.min(c + 999, #members) do chunk[#chunk + 1] = members[m] end
        local values = redis.call('HMGET', rtables[r], unpack(chunk))
        for m = 1, #chunk do
          res[#res + 1] = chunk[m]
          res[#res + 1] = values[m]
        end
      end
    end
    res[2] = redis.call('INCR', seqkey)
    out[n] = res
  end
end
return out
