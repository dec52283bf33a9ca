--[[
  fold-aggregate: commit one fold of members into incremental aggregates
  (src/runtime/aggregate-step.ts computes it with the topology's adder and
  subtractor, which cannot run here). A compare-and-set: nothing is written
  unless every contribution and every aggregate read for the fold is still
  the one stored, so two folds of the same member or group (two instances, a
  drain racing a live fold, a retry after a crash) never both count; the
  loser reads again. Atomic, so a crash leaves the fold either whole or not
  done at all (its fold marks stay, and a drain redoes it).

  KEYS[1]  the view's contributions hash: member -> counted row
           ("<version>\n<group>\n<row JSON>", see src/state/encoding.ts)
  KEYS[2]  the view's aggregate table: group -> "<rev>\n<members>\n<aggregate JSON>"
  KEYS[3]  the view's fold inbox: member -> counter (propagate marks it)
  KEYS[4]  the view's dirty hash: group -> counter (render clears it)
  KEYS[5]  the view's aggregate revision counter

  ARGV[1]  m, the number of members; then per member:
           member key, contribution read ("" = none), new contribution
           ("" = none), fold-mark counter read ("" = leave the mark)
  then     g, the number of groups; then per group:
           group key, stored aggregate read ("" = none), member count after
           the fold ("0" removes the aggregate), aggregate JSON
  then     group keys to mark for render only (members folded already)
  Returns 1 when committed: contributions written, each fold mark cleared if
  its counter is still the one read (a newer change marked it again
  otherwise), each group's aggregate written with a new revision and its
  view root marked for render; 0 when something changed since it was read.
]]
--@include stored-row

local m = tonumber(ARGV[1])
local g_at = 2 + 4 * m
local g = tonumber(ARGV[g_at])

local function current(key, field)
  local v = redis.call('HGET', key, field)
  if v then return v end
  return ''
end

for k = 0, m - 1 do
  local i = 2 + 4 * k
  if current(KEYS[1], ARGV[i]) ~= ARGV[i + 1] then return 0 end
end
for k = 0, g - 1 do
  local i = g_at + 1 + 4 * k
  if current(KEYS[2], ARGV[i]) ~= ARGV[i + 1] then return 0 end
end

for k = 0, m - 1 do
  local i = 2 + 4 * k
  local member, read, new, token = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if new ~= read then
    if new == '' then redis.call('HDEL', KEYS[1], member) else redis.call('HSET', KEYS[1], member, new) end
  end
  if token ~= '' and redis.call('HGET', KEYS[3], member) == token then redis.call('HDEL', KEYS[3], member) end
end
for k = 0, g - 1 do
  local i = g_at + 1 + 4 * k
  local group, count, json = ARGV[i], ARGV[i + 2], ARGV[i + 3]
  if count == '0' then
    redis.call('HDEL', KEYS[2], group)
  else
    local rev = string.format('%020d', redis.call('INCR', KEYS[5]))
    redis.call('HSET', KEYS[2], group, encode_stored(rev, count, json))
  end
  redis.call('HINCRBY', KEYS[4], group, 1)
end
for i = g_at + 1 + 4 * g, #ARGV do redis.call('HINCRBY', KEYS[4], ARGV[i], 1) end
return 1
