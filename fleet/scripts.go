package fleet

import "github.com/redis/go-redis/v9"

// The budget's state in Redis, under Config.KeyPrefix + "budget:{" + Name + "}:"
// (the braces keep the keys in one Redis Cluster slot):
//
//	leases   sorted set: member = lease id, score = expiry (ms, Redis clock)
//	procs    sorted set: member = process id, score = expiry: the live processes
//	starved  sorted set: member = process id, score = expiry: processes waiting in Take
//	released pub/sub channel: a lease was handed back
//
// Every script reads the clock with TIME on the server, so the processes'
// own clocks never matter. Expired entries are dropped before counting.

// takeScript adds one lease if the set holds fewer than size live leases.
//
//	KEYS[1] leases
//	ARGV[1] size, ARGV[2] ttl ms, ARGV[3] lease id
//	returns {granted 0|1, live leases after}
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then
  return {0, n}
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return {1, n + 1}
`)

// tickScript is the process's heartbeat: it renews the given leases (and
// re-admits, while there is room, any that expired while the process could
// not reach Redis), keeps the process in procs, marks or unmarks it starved,
// and reads the fleet's state.
//
//	KEYS[1] leases, KEYS[2] procs, KEYS[3] starved
//	ARGV[1] size, ARGV[2] ttl ms, ARGV[3] process id,
//	ARGV[4] starved ttl ms (0: not starved), ARGV[5..] lease ids to renew
//	returns {live leases, live processes, other starved processes, lost lease ids...}
var tickScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local size = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local starving = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl * 2)
if starving > 0 then
  redis.call('ZADD', KEYS[3], now + starving, ARGV[3])
  redis.call('PEXPIRE', KEYS[3], starving * 2)
else
  redis.call('ZREM', KEYS[3], ARGV[3])
end
local n = redis.call('ZCARD', KEYS[1])
local res = {0, 0, 0}
for i = 5, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i])
  elseif n < size then
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
    n = n + 1
  else
    res[#res + 1] = ARGV[i]
  end
end
if #ARGV >= 5 then
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
end
local others = redis.call('ZCARD', KEYS[3])
if starving > 0 then others = others - 1 end
res[1] = n
res[2] = redis.call('ZCARD', KEYS[2])
res[3] = others
return res
`)

// releaseScript drops leases and tells waiting processes.
//
//	KEYS[1] leases
//	ARGV[1] channel, ARGV[2..] lease ids
var releaseScript = redis.NewScript(`
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
local n = redis.call('ZREM', KEYS[1], unpack(ids))
redis.call('PUBLISH', ARGV[1], n)
return n
`)
