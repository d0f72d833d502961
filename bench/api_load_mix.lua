-- wrk script of bench/api_load.py: the business mix (placeholders __X__ filled in by it).
local token = "__TOKEN__"
local certs = {__CERTS__}
local alarms = {__ALARMS__}
local tags = {__TAGS__}
local history_qs = "__HISTORY_QS__"
-- 0: the business mix; else one request kind of it alone (--only: CPU per request by route)
local only = __ONLY__
local kinds = {"%E5%AE%89%E5%85%A8%E7%94%9F%E4%BA%A7%E8%AE%B8%E5%8F%AF%E8%AF%81", "%E5%AE%89%E5%85%A8%E8%AF%84%E4%BB%B7%E6%8A%A5%E5%91%8A"}
local threads = {}
local thread_no = 0
local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}

function setup(thread)
  thread:set("id", thread_no)
  thread_no = thread_no + 1
  table.insert(threads, thread)
end

function init(args)
  run = args[3]  -- certificate numbers are unique: a second run must not draw the same ones
  math.randomseed(1000 + id)
  n_threads = tonumber(args[1])
  -- this thread acknowledges alarms start+id+1, start+id+1+n, ...: each alarm once per run;
  -- the warm-up takes its alarms from the second half (start = half), the measured run from 0
  ack_next = tonumber(args[2]) + id + 1
  ack_end = math.min(tonumber(args[4]), #alarms)  -- past it: an update instead (each alarm once)
  created = 0
  codes = {}
end

local function pick(t) return t[math.random(#t)] end

function request()
  local r = only > 0 and only or math.random(100)
  if r > 100 then
    return wrk.format("GET", "/api/v1/auth/me", headers)
  elseif r <= 25 then
    return wrk.format("GET", "/api/v1/certificates?kind=" .. pick(kinds) .. "&sort=-expiry_date&size=20&page=" .. math.random(5), headers)
  elseif r <= 40 then
    return wrk.format("GET", "/api/v1/alarm-records?scope=active&priority=high&priority=critical&size=20&page=" .. math.random(5), headers)
  elseif r <= 55 then
    return wrk.format("GET", "/api/v1/certificates/" .. pick(certs), headers)
  elseif r <= 70 then
    return wrk.format("GET", "/api/v1/tags/" .. pick(tags) .. "/latest", headers)
  elseif r <= 80 then
    return wrk.format("GET", "/api/v1/tags/__HISTORY_TAG__/history?" .. history_qs, headers)
  elseif r <= 88 then
    created = created + 1
    local body = string.format('{"kind":"安全生产许可证","number":"W%s-%d-%d","name":"压测新增","holder":"演示化工","expiry_date":"2030-01-01"}', run .. "-" .. id, created, math.random(1000000))
    return wrk.format("POST", "/api/v1/certificates", headers, body)
  elseif r <= 95 or ack_next > ack_end then
    local body = string.format('{"remarks":"压测修改 %d"}', math.random(1000000))
    return wrk.format("PATCH", "/api/v1/certificates/" .. pick(certs), headers, body)
  else
    local pk = alarms[ack_next]
    ack_next = ack_next + n_threads
    return wrk.format("POST", "/api/v1/alarm-records/" .. pk .. "/ack", headers, '{"comment":"压测确认"}')
  end
end

function response(status, hdrs, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local c = t:get("codes")
    for k, v in pairs(c) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%d": %d', k, v)) end
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non2xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "codes": {%s}}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, table.concat(parts, ", ")))
end
