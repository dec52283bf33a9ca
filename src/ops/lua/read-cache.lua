--[[
  read-cache: the reader side of promotion. Reads a cache namespace pointer
  and documents under the prefix it names, in one atomic step, so a query
  never mixes two versions (a promotion switches the pointer between two
  reads of a multi-key query) and never follows a pointer to a store that
  was dropped meanwhile.

  KEYS[1]  the pointer key (e.g. "cache:customer-cache:customer-cache:__current")
  ARGV     canonical key strings of the documents
  Returns {prefix, doc JSON or false, …}, or {} when nothing is promoted.
  The document keys are built here, so this needs a single Redis node.
]]
local prefix = redis.call('GET', KEYS[1])
if not prefix then return {} end
local out = {prefix}
for i = 1, #ARGV do out[i + 1] = redis.call('GET', prefix .. ARGV[i]) end
return out
