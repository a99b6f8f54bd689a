/**
 * The Redis store's Lua: one script per admission, one per settlement, each atomic and timed by
 * Redis's own clock (TIME), so instances with skewed clocks still share one timeline. Every
 * function mirrors token-bucket.ts, budget-periods.ts or decision.ts; keep them in step.
 *
 * Numbers: Lua numbers are doubles (fractional tokens, ms with µs fractions). Values returned to
 * the client are whole numbers (Redis truncates Lua numbers in replies), so the script rounds them
 * itself. Budget counters are integer nano-units kept with HINCRBY (exact 64-bit integers).
 */

const PRELUDE = `
local function clock_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

local function ceil_ms(ms)
  return math.ceil(ms - 1e-6)
end

local function refilled(key, cap, rate, now)
  local v = redis.call('HMGET', key, 't', 'u')
  local tokens, at = tonumber(v[1]), tonumber(v[2])
  if tokens == nil or at == nil then return cap end
  local elapsed = now - at
  if elapsed < 0 then elapsed = 0 end
  local current = tokens + elapsed * rate
  if current > cap then return cap end
  return current
end

local function until_full(tokens, cap, rate)
  if tokens >= cap then return 0 end
  return ceil_ms((cap - tokens) / rate)
end

-- A bucket key lives until its bucket would be full again: an absent key means a full bucket.
local function store_bucket(key, tokens, cap, rate, now)
  redis.call('HSET', key, 't', string.format('%.17g', tokens), 'u', string.format('%.17g', now))
  redis.call('PEXPIRE', key, until_full(tokens, cap, rate) + 1000)
end

-- budget-periods.ts: UTC day number, year*12+month0, and the ms at which each ends.
local function periods(now)
  local day = math.floor(now / 86400000)
  local z = day + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp - 9
  if mp < 10 then m = mp + 3 end
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  local ny, nm = y, m + 1
  if m == 12 then ny, nm = y + 1, 1 end
  local yy = ny
  if nm <= 2 then yy = ny - 1 end
  local era2 = math.floor(yy / 400)
  local yoe2 = yy - era2 * 400
  local sm = nm + 9
  if nm > 2 then sm = nm - 3 end
  local doy2 = math.floor((153 * sm + 2) / 5)
  local doe2 = yoe2 * 365 + math.floor(yoe2 / 4) - math.floor(yoe2 / 100) + doy2
  local month_end_day = era2 * 146097 + doe2 - 719468
  return day, y * 12 + (m - 1), (day + 1) * 86400000, month_end_day * 86400000
end
`;

/**
 * KEYS: per scope (key first) its request bucket, token bucket and lease ZSET; then the key's budget hash.
 * ARGV: reserved tokens, lease id, lease ms, concurrency retry hint ms, scope count; per scope
 *   request capacity, request refill/ms, token capacity, token refill/ms, max concurrent (0: none);
 *   daily budget nanos, monthly budget nanos (0: none).
 * Reply: admitted (1/0), limit (0 none, 1 requests, 2 tokens, 3 concurrency, 4 budget), scope
 *   index (1-based), severity (decision.ts), wait ms, then for the key's request and token buckets:
 *   remaining (floor, ≥0), reset ms; -1 -1 where the key has no such bucket.
 */
export const ADMIT_LUA = `${PRELUDE}
local now = clock_ms()
local reserved = tonumber(ARGV[1])
local lease_id = ARGV[2]
local lease_ms = tonumber(ARGV[3])
local concurrency_wait = tonumber(ARGV[4])
local scopes = tonumber(ARGV[5])

local f_sev, f_limit, f_scope, f_wait = 0, 0, 0, 0
local function note(sev, limit, scope, wait)
  if sev > f_sev or (sev == f_sev and wait > f_wait) then
    f_sev, f_limit, f_scope, f_wait = sev, limit, scope, wait
  end
end
local function check(tokens, n, cap, rate, limit, scope)
  if n > cap then note(2, limit, scope, 0)
  elseif tokens < n then note(1, limit, scope, ceil_ms((n - tokens) / rate)) end
end

local rq, tk = {}, {}
for i = 1, scopes do
  local a, k = 5 + (i - 1) * 5, (i - 1) * 3
  local rq_cap, rq_rate = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local tk_cap, tk_rate = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local max_conc = tonumber(ARGV[a + 5])
  if rq_cap > 0 then
    rq[i] = refilled(KEYS[k + 1], rq_cap, rq_rate, now)
    check(rq[i], 1, rq_cap, rq_rate, 1, i)
  end
  if tk_cap > 0 then
    tk[i] = refilled(KEYS[k + 2], tk_cap, tk_rate, now)
    check(tk[i], reserved, tk_cap, tk_rate, 2, i)
  end
  if max_conc > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 3], '-inf', now)
    if redis.call('ZCARD', KEYS[k + 3]) >= max_conc then note(1, 3, i, concurrency_wait) end
  end
end

local b = 5 + scopes * 5
local daily, monthly = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
if daily > 0 or monthly > 0 then
  local day, month, day_end, month_end = periods(now)
  local v = redis.call('HMGET', KEYS[scopes * 3 + 1], 'd', 'ds', 'm', 'ms')
  if daily > 0 and tonumber(v[1]) == day and (tonumber(v[2]) or 0) >= daily then note(3, 4, 1, ceil_ms(day_end - now)) end
  if monthly > 0 and tonumber(v[3]) == month and (tonumber(v[4]) or 0) >= monthly then note(3, 4, 1, ceil_ms(month_end - now)) end
end

if f_sev == 0 then
  for i = 1, scopes do
    local a, k = 5 + (i - 1) * 5, (i - 1) * 3
    if rq[i] ~= nil then
      rq[i] = rq[i] - 1
      store_bucket(KEYS[k + 1], rq[i], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), now)
    end
    if tk[i] ~= nil then
      tk[i] = tk[i] - reserved
      store_bucket(KEYS[k + 2], tk[i], tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), now)
    end
    if tonumber(ARGV[a + 5]) > 0 then
      redis.call('ZADD', KEYS[k + 3], now + lease_ms, lease_id)
      redis.call('PEXPIRE', KEYS[k + 3], lease_ms + 1000)
    end
  end
end

local reply = { f_sev == 0 and 1 or 0, f_limit, f_scope, f_sev, f_wait, -1, -1, -1, -1 }
if rq[1] ~= nil then
  reply[6] = math.floor(math.max(0, rq[1]))
  reply[7] = until_full(rq[1], tonumber(ARGV[6]), tonumber(ARGV[7]))
end
if tk[1] ~= nil then
  reply[8] = math.floor(math.max(0, tk[1]))
  reply[9] = until_full(tk[1], tonumber(ARGV[8]), tonumber(ARGV[9]))
end
return reply
`;

/**
 * KEYS: per scope its token bucket and lease ZSET; then the key's budget hash; then the base name
 *   of the key's usage hashes.
 * ARGV: extra tokens (used − reserved), lease id, scope count; per scope token capacity (0: none),
 *   token refill/ms, leased (1/0); cost nanos (integer string), budgeted (1/0), replay (1/0);
 *   key id, tenant, input, cached input and output tokens (integer strings), day and month
 *   retention ms (usage-counters.ts).
 * A replay (a settlement retried after its first attempt failed, which may still have run) only
 * reconciles, charges and counts when it finds the ticket's lease still held: lease ids are unique
 * and only a settlement or expiry removes them, so that proves no earlier attempt took effect.
 * Usage (every key, budgeted or not): one hash per period, named base..':d'..day and
 * base..':m'..month, since the period is known only here (Redis's clock). Those names are not in
 * KEYS, but they share the base's hash tag, so they live in the script's own cluster slot.
 * Fields: k key id, t tenant, r requests, i input, c cached input, o output tokens, n cost nanos;
 * each expires its retention after its period ends (memory-store.ts keeps the same).
 * Reply: the number of leases removed.
 */
export const SETTLE_LUA = `${PRELUDE}
local now = clock_ms()
local extra = tonumber(ARGV[1])
local lease_id = ARGV[2]
local scopes = tonumber(ARGV[3])
local b = 3 + scopes * 3
local released = 0
for i = 1, scopes do
  if ARGV[3 + (i - 1) * 3 + 3] == '1' then released = released + redis.call('ZREM', KEYS[i * 2], lease_id) end
end
if ARGV[b + 3] == '1' and released == 0 then return 0 end
for i = 1, scopes do
  local a, k = 3 + (i - 1) * 3, (i - 1) * 2
  local cap, rate = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  if cap > 0 and extra ~= 0 then
    local tokens = refilled(KEYS[k + 1], cap, rate, now) - extra
    if tokens > cap then tokens = cap end
    store_bucket(KEYS[k + 1], tokens, cap, rate, now)
  end
end
local cost = ARGV[b + 1]
local day, month, day_end, month_end = periods(now)
if ARGV[b + 2] == '1' and cost ~= '0' then
  local key = KEYS[scopes * 2 + 1]
  local v = redis.call('HMGET', key, 'd', 'm')
  if tonumber(v[1]) ~= day then redis.call('HSET', key, 'd', string.format('%d', day), 'ds', '0') end
  if tonumber(v[2]) ~= month then redis.call('HSET', key, 'm', string.format('%d', month), 'ms', '0') end
  redis.call('HINCRBY', key, 'ds', cost)
  redis.call('HINCRBY', key, 'ms', cost)
  redis.call('PEXPIRE', key, ceil_ms(month_end - now) + 86400000)
end
local function count(key, period_end, retention)
  redis.call('HSET', key, 'k', ARGV[b + 4], 't', ARGV[b + 5])
  redis.call('HINCRBY', key, 'r', 1)
  redis.call('HINCRBY', key, 'i', ARGV[b + 6])
  redis.call('HINCRBY', key, 'c', ARGV[b + 7])
  redis.call('HINCRBY', key, 'o', ARGV[b + 8])
  redis.call('HINCRBY', key, 'n', cost)
  redis.call('PEXPIRE', key, ceil_ms(period_end - now) + retention)
end
local usage = KEYS[scopes * 2 + 2]
count(usage .. ':d' .. string.format('%d', day), day_end, tonumber(ARGV[b + 9]))
count(usage .. ':m' .. string.format('%d', month), month_end, tonumber(ARGV[b + 10]))
return released
`;

/** For tests: the Lua budget periods of a given ms timestamp, to compare with budgetPeriods(). */
export const PERIODS_PROBE_LUA = `${PRELUDE}
local day, month, day_end, month_end = periods(tonumber(ARGV[1]))
return { day, month, string.format('%d', day_end), string.format('%d', month_end) }
`;
