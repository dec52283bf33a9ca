--[[
  read-cache: the reader side of promotion. Reads documents of the promoted
  version of a cache view together with its namespace pointer, in one atomic
  step, so a multi-key query never mixes two versions (a promotion switching
  the pointer between two reads) and never follows a pointer to a store that
  was dropped meanwhile.

  KEYS[1]  the pointer key (e.g. "cache:customer-cache:customer-cache:__current")
  KEYS[2…] the document keys under the prefix the caller read from the pointer
  ARGV[1]  that prefix

  Returns {1, doc JSON or false, …} when the pointer still holds ARGV[1];
  {0, the current prefix or false} when it changed (read it again and retry).
]]
local prefix = redis.call('GET', KEYS[1])
if prefix ~= ARGV[1] then return {0, prefix} end
local out = {1}
for i = 2, #KEYS do out[i] = redis.call('GET', KEYS[i]) end
return out
