--[[
  propagate: turn a table's changed keys (its dirty marks, set by apply-batch)
  into dirty view roots, maintaining the roll-up / group membership indexes,
  then clear the table's marks. One atomic step, so a crash leaves either the
  table marks (redo) or the view marks (render), never neither.

  KEYS[1]  the table's dirty hash (key -> version that marked it)
  ARGV[1]  view key prefix, "cdcv:<app>:v:"
  ARGV[2]  number of changed keys; then per key:
             key, version, number of dependencies d, then d groups of 4:
             kind, view, op index, parent
           kind "r": the key is a root of the view         -> dirty root = key
           kind "j": the view joins this table at op index  -> dirty roots = members of rev:<i>:<key>
           kind "m": the key is a member (roll-up child or group member) whose
                     parent (root key) is now `parent` ("" = none)
                                                            -> move membership, dirty old and new parent

  Per view <v>, keys used: <p><v>:dirty (hash root -> counter), <p><v>:rev:<i>:<fk> (set),
  <p><v>:mem:<i>:<parent> (set), <p><v>:par:<i> (hash member -> parent).
  Keys are built here, so this script needs a single Redis node.
  Returns a flat list: view, root, view, root, … of the roots marked dirty.
]]
local p = ARGV[1]
local out = {}
local function mark(view, root)
  redis.call('HINCRBY', p .. view .. ':dirty', root, 1)
  out[#out + 1] = view
  out[#out + 1] = root
end

local i = 3
for _ = 1, tonumber(ARGV[2]) do
  local key, version, ndeps = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  i = i + 3
  for _ = 1, ndeps do
    local kind, view, op, parent = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    i = i + 4
    local vp = p .. view .. ':'
    if kind == 'r' then
      mark(view, key)
    elseif kind == 'j' then
      for _, root in ipairs(redis.call('SMEMBERS', vp .. 'rev:' .. op .. ':' .. key)) do mark(view, root) end
    else
      local par = vp .. 'par:' .. op
      local old = redis.call('HGET', par, key)
      if old and old ~= parent then
        redis.call('SREM', vp .. 'mem:' .. op .. ':' .. old, key)
        mark(view, old)
      end
      if parent ~= '' then
        redis.call('SADD', vp .. 'mem:' .. op .. ':' .. parent, key)
        redis.call('HSET', par, key, parent)
        mark(view, parent)
      elseif old then
        redis.call('HDEL', par, key)
      end
    end
  end
  if redis.call('HGET', KEYS[1], key) == version then redis.call('HDEL', KEYS[1], key) end
end
return out
