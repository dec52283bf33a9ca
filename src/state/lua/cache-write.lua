--[[
  cache-write: write rendered documents to the cache, keeping only the highest
  render sequence per document (compare-and-set).

  KEYS[1]  the cache's sequence hash: key string -> highest sequence written
  KEYS[2…] the document keys, one per document, in the order of ARGV
  ARGV[1]  TTL in seconds, 0 for none
  ARGV[2…] per document a triple: key string, sequence, document JSON ("" = delete)

  A document whose sequence is not higher than the stored one is skipped.
  Returns {written, skipped}.
]]
local ttl = tonumber(ARGV[1])
local written, skipped = 0, 0
local k = 2
for i = 2, #ARGV, 3 do
  local key, seq, doc = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local dockey = KEYS[k]
  k = k + 1
  local current = tonumber(redis.call('HGET', KEYS[1], key) or '0')
  if seq > current then
    redis.call('HSET', KEYS[1], key, seq)
    if doc == '' then
      redis.call('DEL', dockey)
    elseif ttl > 0 then
      redis.call('SET', dockey, doc, 'EX', ttl)
    else
      redis.call('SET', dockey, doc)
    end
    written = written + 1
  else
    skipped = skipped + 1
  end
end
return {written, skipped}
