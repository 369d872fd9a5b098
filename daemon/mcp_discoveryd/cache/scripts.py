"""The Lua scripts the Redis backend runs: each is one atomic step on keys of one slot.

Lua rather than WATCH/MULTI: one round trip, no retry loop under contention, no
connection pinned for the watch, and it works the same on Redis Cluster (every
script touches keys of one ``{G}`` hash tag only).
"""

from __future__ import annotations

# KEYS: entry, index.  ARGV: blob, px, member, summary, fetched_at, channel, event.
# Newer fetched_at wins: the write is skipped when the live stored entry's summary says it
# was fetched later. An equal fetched_at writes (a failure recorded on the same version).
# The "updated" event is published only when the write happened.
PUT_IF_NOT_OLDER = """
local old = redis.call('HGET', KEYS[2], ARGV[3])
if old and redis.call('EXISTS', KEYS[1]) == 1 then
  local ok, doc = pcall(cjson.decode, old)
  if ok and type(doc) == 'table' then
    local stored = tonumber(doc['fetched_at'])
    if stored and stored > tonumber(ARGV[5]) then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
"""

# KEYS: lease.  ARGV: token.  Deletes the lease only while this token holds it.
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: lease.  ARGV: token, ttl (ms).  Extends the lease only while this token holds it.
RENEW_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
