-- wrk script of bench/permits.py (placeholders __X__ filled in by it). One connection per
-- wrk thread, so each thread is one user who runs whole lives one request after the other:
--   permit: plan the job -> brief -> submit -> sign every level -> gas analysis -> start ->
--           complete -> accept (closed);
--   crud (baseline): create a certificate, then PATCH it until as many requests were sent.
-- A refused request ends that life (counted as failed) and the user starts a new one.
local token = "__TOKEN__"
local mode = "__MODE__"
local requests_per_life = __REQUESTS_PER_LIFE__
-- mean think time between a user's requests, ms (0: none, every user sends at once again)
local think_ms = __THINK_MS__
local crew = {guardian = __GUARDIAN__, welder = __WELDER__, acceptor = __ACCEPTOR__}
-- signers per managed grade, in the order of the approval template
local signers = {__SIGNERS__}
local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
local threads = {}
local thread_no = 0

function setup(thread)
  thread:set("id", thread_no)
  thread_no = thread_no + 1
  table.insert(threads, thread)
end

function init(args)
  run = args[1]
  math.randomseed(os.time() + 7919 * id)
  lives, closed, failed, step = 0, 0, 0, 0
  sent, closed_requests = 0, 0  -- requests of this life so far; of the closed lives in all
  base, queue, last_ok = nil, {}, true
end

local function now_iso(offset_s)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + (offset_s or 0))
end

local function post(path, body)
  return wrk.format("POST", path, headers, body)
end

local function new_life()
  lives = lives + 1
  step = 0
  sent = 1
  if mode == "crud" then
    return post("/api/v1/certificates", string.format('{"kind":"安全评价报告","number":"B-%s-%d-%d"}', run, id, lives))
  end
  local n = id * 100000 + lives
  local plan = string.format(
    '{"title":"压力管线补焊 #%d","content":"管廊 P-201 支架补焊","area":"area-%d","planned_start":"%s",' ..
    '"planned_end":"%s","chemicals":["甲烷"],"guardian_id":%d,"worker_ids":[%d],' ..
    '"tickets":[{"work_type":"动火作业","grade":"二级","hot_work_method":"电焊"}]}',
    n, n % 7, now_iso(0), now_iso(4 * 3600), crew.guardian, crew.welder)
  return post("/api/v1/permits/jobs", plan)
end

function request()
  if step == 0 or not last_ok then
    base = nil
    return new_life()
  end
  local next_request = table.remove(queue, 1)
  sent = sent + 1
  return next_request()
end

local function permit_steps(body)
  local permit = body:match('"permits":%[{"id":(%d+)')
  local grade = body:match('"managed_grade":"([^"]+)"')
  local levels = grade and signers[grade]
  if not permit or not levels then return false end
  base = "/api/v1/permits/" .. permit
  queue = {
    function() return post(base .. "/brief", "{}") end,
    function() return post(base .. "/submit") end,
  }
  for _, approver in ipairs(levels) do
    table.insert(queue, function() return post(base .. "/sign", string.format('{"approver_id":%d}', approver)) end)
  end
  table.insert(queue, function()
    return post(base .. "/gas-analyses", string.format(
      '{"analyst":"化验员","sampled_at":"%s","point":"动火点 10 m 内",' ..
      '"readings":[{"kind":"可燃气体","substance":"甲烷","value":0.1,"unit":"%%VOL"}]}', now_iso(-1)))
  end)
  table.insert(queue, function() return post(base .. "/start") end)
  table.insert(queue, function() return post(base .. "/complete") end)
  table.insert(queue, function() return post(base .. "/accept", string.format('{"acceptor_id":%d}', crew.acceptor)) end)
  return true
end

local function crud_steps(body)
  local record = body:match('^{"id":(%d+)')
  if not record then return false end
  base = "/api/v1/certificates/" .. record
  queue = {}
  for i = 1, requests_per_life - 1 do
    table.insert(queue, function()
      return wrk.format("PATCH", base, headers, string.format('{"remarks":"第 %d 次"}', i))
    end)
  end
  return true
end

-- A user's pause before each request: exponentially distributed around the mean (a Poisson
-- stream of steps per user), so the users do not fall into lock-step; cut at 4 s, below
-- uvicorn's 5 s keep-alive timeout, else the server closes the idle connection as wrk sends.
function delay()
  if think_ms <= 0 then return 0 end
  return math.min(4000, math.floor(-think_ms * math.log(1 - math.random())))
end

function response(status, hdrs, body)
  last_ok = status < 300
  if not last_ok then
    failed = failed + 1
    if failed <= 3 then io.stderr:write(string.format("refused %d: %s\n", status, body:sub(1, 300))) end
    return
  end
  if step == 0 then
    last_ok = (mode == "crud" and crud_steps or permit_steps)(body)
  elseif #queue == 0 then
    closed = closed + 1  -- the life's last request succeeded
    closed_requests = closed_requests + sent
    base = nil
    step = -1
  end
  step = step + 1
end

function done(summary, latency, requests)
  local c, f, cr = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("closed")
    f = f + t:get("failed")
    cr = cr + t:get("closed_requests")
  end
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "lives": %d, "lives_requests": %d, "failed_lives": %d, "non2xx": %d, ' ..
    '"connect": %d, ' ..
    '"read": %d, "write": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, c, cr, f, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max))
end
