--[[
  cache-write: write rendered documents to the cache, keeping only the highest
  render sequence per document (compare-and-set).

  KEYS[1]  the cache's sequence hash: key string -> highest sequence written
  ARGV[1]  document key prefix (the document for key k lives at prefix .. k)
  ARGV[2]  TTL in seconds, 0 for none
  ARGV[3…] triples: key string, sequence, document JSON ("" = delete)

  The document keys are built here from the prefix, so this script needs a
  single Redis node (not Redis Cluster). Returns {written, skipped}.
]]
local prefix, ttl = ARGV[1], tonumber(ARGV[2])
local written, skipped = 0, 0
for i = 3, #ARGV, 3 do
  local key, seq, doc = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local current = tonumber(redis.call('HGET', KEYS[1], key) or '0')
  if seq > current then
    redis.call('HSET', KEYS[1], key, seq)
    if doc == '' then
      redis.call('DEL', prefix .. key)
    elseif ttl > 0 then
      redis.call('SET', prefix .. key, doc, 'EX', ttl)
    else
      redis.call('SET', prefix .. key, doc)
    end
    written = written + 1
  else
    skipped = skipped + 1
  end
end
return {written, skipped}
