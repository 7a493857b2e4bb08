package cluster

import "github.com/redis/rueidis"

// The Lua scripts. Each runs atomically in Redis, which is what makes chunk IDs dense and
// counters exact while any number of replicas write at once. rueidis sends EVALSHA and falls back
// to EVAL when Redis does not know the script yet (after a restart, say).
//
// Lua 5.1 prints large numbers in exponent form, so every integer written to Redis goes through
// int(), and times travel as the strings Go formatted.

// luaHelpers is prepended to the scripts that append or close. A stream's state is loaded once
// per script into a table, changed by append and written back by save.
const luaHelpers = `
local function int(n) return string.format('%d', n) end

-- load reads a stream's meta; nil when there is no such stream.
local function load(meta, hist, chan)
  local m = redis.call('HMGET', meta, 'status', 'last', 'first', 'bytes', 'hn', 'hb', 'owner', 'epoch', 'tenant')
  if not m[1] then return nil end
  return {meta = meta, hist = hist, chan = chan, status = m[1], last = tonumber(m[2]), first = tonumber(m[3]),
    bytes = tonumber(m[4]), hn = tonumber(m[5]), hb = tonumber(m[6]), owner = m[7], epoch = m[8], tenant = m[9]}
end

-- append adds chunk last+1 to the history, trims the oldest chunks until both the count and the
-- byte bound hold (the new chunk always stays) and publishes the chunk.
local function append(st, data, event, flag, t)
  local id = st.last + 1
  redis.call('XADD', st.hist, int(id) .. '-0', 'd', data, 'e', event, 'f', flag, 't', t)
  st.last, st.bytes = id, st.bytes + #data
  local from = st.first
  while st.first < id and (id - st.first + 1 > st.hn or st.bytes > st.hb) do
    local e = redis.call('XRANGE', st.hist, int(st.first) .. '-0', int(st.first) .. '-0')
    if e[1] then st.bytes = st.bytes - #e[1][2][2] end
    st.first = st.first + 1
  end
  if st.first ~= from then redis.call('XTRIM', st.hist, 'MINID', int(st.first) .. '-0') end
  redis.call('SPUBLISH', st.chan, 'c ' .. int(id) .. ' ' .. t .. ' ' .. flag .. ' ' .. int(#event) .. '\n' .. event .. data)
end

-- save writes back what append changed.
local function save(st)
  redis.call('HSET', st.meta, 'last', int(st.last), 'first', int(st.first), 'bytes', int(st.bytes))
end

-- finish closes an active stream: status, reason and error in the meta, counters down, out of its
-- owner's set, every key of the stream set to expire, and a close message published.
local function finish(st, active, owned, id, status, reason, errjson, closed, retain)
  save(st)
  redis.call('HSET', st.meta, 'status', status, 'reason', reason, 'err', errjson, 'closed', closed)
  redis.call('HINCRBY', active, '*', -1)
  if redis.call('HINCRBY', active, 't:' .. st.tenant, -1) <= 0 then redis.call('HDEL', active, 't:' .. st.tenant) end
  redis.call('SREM', owned, id)
  redis.call('PEXPIRE', st.meta, retain)
  redis.call('PEXPIRE', st.hist, retain)
  redis.call('SPUBLISH', st.chan, 'x ' .. status .. ' ' .. int(st.last) .. ' ' .. int(#reason) .. '\n' .. reason .. errjson)
end
`

// Script results below zero are refusals, each documented on its script.
const (
	resNotFound  = -1 // append, close, read
	resExists    = -1 // create
	resClosed    = -2 // append
	resTooMany   = -2 // create
	resTenantMax = -3 // create
	resNotOwner  = -3 // close: the owner or epoch changed since the caller read them
	resLeaseLost = -4 // create
	resBeyondEnd = -2 // read
	resTrimmed   = -3 // read
)

// createScript creates an active stream unless a limit or an existing stream refuses it.
// KEYS: meta, hist, active, tenant index, owned, lease.
// ARGV: id, tenant, labels JSON, node, epoch, instance, created µs, max streams, tenant max (0 for
// none), history count, history bytes.
var createScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[6]) ~= ARGV[5] then return -4 end
if tonumber(redis.call('HGET', KEYS[3], '*') or '0') >= tonumber(ARGV[8]) then return -2 end
local tmax = tonumber(ARGV[9])
if tmax > 0 and tonumber(redis.call('HGET', KEYS[3], 't:' .. ARGV[2]) or '0') >= tmax then return -3 end
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'status', 'active', 'tenant', ARGV[2], 'labels', ARGV[3], 'owner', ARGV[4],
  'epoch', ARGV[5], 'inst', ARGV[6], 'created', ARGV[7], 'last', '0', 'first', '1', 'bytes', '0',
  'hn', ARGV[10], 'hb', ARGV[11])
redis.call('HINCRBY', KEYS[3], '*', 1)
redis.call('HINCRBY', KEYS[3], 't:' .. ARGV[2], 1)
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
return 1
`)

// appendScript appends chunks to an active stream, each with the next ID, and returns the last
// chunk's ID. KEYS: meta, hist. ARGV: channel, then per chunk: data, event, error flag ("1" for an
// error chunk), time µs.
var appendScript = rueidis.NewLuaScript(luaHelpers + `
local st = load(KEYS[1], KEYS[2], ARGV[1])
if not st then return -1 end
if st.status ~= 'active' then return -2 end
for i = 2, #ARGV, 4 do
  append(st, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
end
save(st)
return st.last
`)

// closeScript closes an active stream, after an error chunk when ARGV[6] holds one. It returns 1
// when it closed the stream, 0 when the stream was closed already.
// KEYS: meta, hist, active, owned. ARGV: channel, id, owner, epoch, reason, error JSON or "",
// closed µs, retain ms.
var closeScript = rueidis.NewLuaScript(luaHelpers + `
local st = load(KEYS[1], KEYS[2], ARGV[1])
if not st then return -1 end
if st.status ~= 'active' then return 0 end
if st.owner ~= ARGV[3] or st.epoch ~= ARGV[4] then return -3 end
local status = 'completed'
if ARGV[6] ~= '' then
  append(st, ARGV[6], 'error', '1', ARGV[7])
  status = 'error'
end
finish(st, KEYS[3], KEYS[4], ARGV[2], status, ARGV[5], ARGV[6], ARGV[7], ARGV[8])
return 1
`)

// takeoverScript ends a stream whose owner's lease lapsed with an error chunk, if and only if the
// stream is still active, still owned by that node under that epoch, and the lease key does not
// hold that epoch. Every detector may run it; the first wins (1), the others find it closed (0).
// KEYS: meta, hist, active, owned, lease. ARGV: channel, id, node, epoch, reason, error JSON,
// closed µs, retain ms.
var takeoverScript = rueidis.NewLuaScript(luaHelpers + `
local st = load(KEYS[1], KEYS[2], ARGV[1])
if not st or st.status ~= 'active' or st.owner ~= ARGV[3] or st.epoch ~= ARGV[4] then
  redis.call('SREM', KEYS[4], ARGV[2])
  return 0
end
if redis.call('GET', KEYS[5]) == ARGV[4] then return 0 end
append(st, ARGV[6], 'error', '1', ARGV[7])
finish(st, KEYS[3], KEYS[4], ARGV[2], 'error', ARGV[5], ARGV[6], ARGV[7], ARGV[8])
return 1
`)

// readScript reads the chunks after ARGV[1] (at most ARGV[2], 0 for all) together with the state
// they belong to: {0, status, last, reason, error JSON, entries}, or {-1} for no stream, {-2,
// last} beyond the end, {-3, first} when chunk after+1 was trimmed away.
// KEYS: meta, hist.
var readScript = rueidis.NewLuaScriptReadOnly(`
local m = redis.call('HMGET', KEYS[1], 'status', 'last', 'first', 'reason', 'err')
if not m[1] then return {-1} end
local after, last, first = tonumber(ARGV[1]), tonumber(m[2]), tonumber(m[3])
if after > last then return {-2, m[2]} end
if after + 1 < first then return {-3, m[3]} end
local entries = {}
if after < last then
  local from = string.format('%d', after + 1) .. '-0'
  if ARGV[2] == '0' then
    entries = redis.call('XRANGE', KEYS[2], from, '+')
  else
    entries = redis.call('XRANGE', KEYS[2], from, '+', 'COUNT', ARGV[2])
  end
end
return {0, m[1], m[2], m[4] or '', m[5] or '', entries}
`)

// acquireScript takes a node's lease for a new epoch unless another epoch holds it.
// KEYS: lease, nodes. ARGV: epoch, lease ms, nodes member.
var acquireScript = rueidis.NewLuaScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('SADD', KEYS[2], ARGV[3])
return 1
`)

// refreshScript extends a lease the node still holds. A lapsed lease is never renewed: its epoch's
// streams belong to the sweepers from the moment it lapsed. KEYS: lease. ARGV: epoch, lease ms.
var refreshScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// releaseScript deletes a lease the node still holds. KEYS: lease. ARGV: epoch.
var releaseScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`)

// forgetScript removes a dead epoch from the node set once it owns no stream.
// KEYS: nodes, owned, lease. ARGV: member, epoch.
var forgetScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[3]) == ARGV[2] or redis.call('SCARD', KEYS[2]) > 0 then return 0 end
return redis.call('SREM', KEYS[1], ARGV[1])
`)
