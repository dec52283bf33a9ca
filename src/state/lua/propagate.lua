--[[
  propagate: turn a table's changed keys (its dirty marks, set by
  apply-chunk) into dirty view roots, maintaining the roll-up and group
  membership indexes, then clear the table's marks. One atomic step, so a
  crash leaves either the table marks (redo) or the view marks (render),
  never neither.

  KEYS[1]  the table's dirty hash (key string -> version that marked it)
  KEYS[2]  the table's state hash
  KEYS[3…] per dependency, referenced by index from ARGV

  ARGV[1]  page: at most this many roots are marked per joined key and dependency
           of kind "j" (a key read by more roots continues in fan-out.lua)
  ARGV[2]  d, the number of dependencies of the table; then d groups of 5:
           kind, view name, view dirty hash index, index A, index B
           kind "r": the key is a root of the view            (A, B unused: 0)
           kind "j": the view joins this table; A = its reverse-index zset
                     (members "<joined key>\0<root>"): every root that read
                     the key is marked
           kind "m": the key is a member (roll-up child or group member);
                     A = parents hash (member -> root), B = members zset
                     (members "<root>\0<member>"): the membership moves to
                     the new parent, old and new parents are marked — only
                     while the stored version is still the one propagated, so
                     a stale propagation (a drain racing a live write) never
                     moves a member back
           kind "a": the key is a member of an incremental aggregate; the
                     dirty hash given is the view's fold inbox: the member is
                     marked there, to be folded (src/runtime/aggregate-step.ts)
  then     n, the number of changed keys; then per key:
           key string, version, then d parents (one per dependency in order:
           the new parent for kind "m", "" = none; "" for the other kinds)

  A view root's dirty counter is incremented (HINCRBY), so a render that read
  an older state does not clear a newer mark (clear-dirty compares it).
  A table mark is cleared only when it still holds the version propagated,
  and only when every dependency of its key was marked in full: a key with a
  continuation keeps its mark until the caller has marked the rest (a crash
  meanwhile leaves it, and a drain propagates it again).
  Returns a flat list: view, root, view, root, … of the roots marked; for
  kind "a" the view is returned as "+<view>" and the key is a member marked in
  its fold inbox (view names never start with "+"); a continuation is
  returned as ">" .. <dependency number>, <the last "<joined key>\0<root>"
  member marked>, for the caller to mark the roots after it.
]]
--@include stored-row

local SEP = '\0'
local page = tonumber(ARGV[1])
local d = tonumber(ARGV[2])
local deps = {}
local i = 3
for k = 1, d do
  deps[k] = {kind = ARGV[i], view = ARGV[i + 1], dirty = KEYS[tonumber(ARGV[i + 2])],
             a = KEYS[tonumber(ARGV[i + 3])], b = KEYS[tonumber(ARGV[i + 4])]}
  i = i + 5
end

local out = {}
local function mark(dep, root)
  redis.call('HINCRBY', dep.dirty, root, 1)
  out[#out + 1] = dep.kind == 'a' and ('+' .. dep.view) or dep.view
  out[#out + 1] = root
end

local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local key, version = ARGV[i], ARGV[i + 1]
  i = i + 2
  local current = stored_version(redis.call('HGET', KEYS[2], key)) == version
  local more = false
  for k = 1, d do
    local dep, parent = deps[k], ARGV[i]
    i = i + 1
    if dep.kind == 'r' or dep.kind == 'a' then
      mark(dep, key)
    elseif dep.kind == 'j' then
      local from = key .. SEP
      local readers = redis.call('ZRANGEBYLEX', dep.a, '[' .. from, '(' .. key .. '\1', 'LIMIT', 0, page)
      for _, m in ipairs(readers) do
        mark(dep, string.sub(m, #from + 1))
      end
      if #readers == page then
        more = true
        out[#out + 1] = '>' .. k
        out[#out + 1] = readers[#readers]
      end
    elseif current then
      local old = redis.call('HGET', dep.a, key)
      if old and old ~= parent then
        redis.call('ZREM', dep.b, old .. SEP .. key)
        mark(dep, old)
      end
      if parent ~= '' then
        redis.call('ZADD', dep.b, 0, parent .. SEP .. key)
        redis.call('HSET', dep.a, key, parent)
        mark(dep, parent)
      elseif old then
        redis.call('HDEL', dep.a, key)
      end
    end
  end
  if not more and redis.call('HGET', KEYS[1], key) == version then redis.call('HDEL', KEYS[1], key) end
end
return out
