-- wrk driver for bench/transitions.py. A thread may hold several connections (run with -t T
-- -c N, N a multiple of T): each of its writes names itself in X-Request-Id, which the service
-- sends back with every answer, so the thread knows which case an answer is for, and it never
-- writes a case that has a write in flight. It keeps its cases' versions and states. The cycle
-- per case, each step one rule-checked write:
--   city_confirmation --return_to_township (city)--> returned
--   returned --return-responses (township)--> township_verification
--   township_verification --submit_to_city (township)--> city_confirmation
-- The cases (id:version:state) and tokens come from the Python side through the environment (BENCH_CASES,
-- BENCH_TOWNSHIP, BENCH_BUREAU); BENCH_THREADS names how many threads share the cases. Each write
-- carries an Idempotency-Key of its own, as the console sends with every write (its record is
-- part of the write's work): BENCH_RUN, the thread and the write's number in it.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

local cases = {}
local current = 0
local pending = {} -- by request id, the case each write in flight is for
local township, bureau, run
local failures = 0
local sent = 0

function init(args)
  township = "Bearer " .. os.getenv("BENCH_TOWNSHIP")
  bureau = "Bearer " .. os.getenv("BENCH_BUREAU")
  run = os.getenv("BENCH_RUN")
  local share = tonumber(os.getenv("BENCH_THREADS"))
  local position = 0
  for entry in string.gmatch(os.getenv("BENCH_CASES"), "[^,]+") do
    -- cases are dealt to threads like cards, so no two threads ever touch one case
    if position % share == index - 1 then
      local id, version, state = string.match(entry, "([^:]+):(%d+):([%a_]+)")
      table.insert(cases, { id = id, version = tonumber(version), state = state })
    end
    position = position + 1
  end
end

function request()
  -- the next of the thread's cases with no write in flight (a thread has more cases than
  -- connections, and an answer frees its case)
  local tried = 0
  repeat
    current = current % #cases + 1
    tried = tried + 1
    if tried > #cases then
      error("every case of thread " .. index .. " has a write in flight")
    end
  until not cases[current].busy
  local case = cases[current]
  case.busy = true
  local path, who, body, target
  if case.state == "city_confirmation" then
    path, who, body, target = "actions/return_to_township", bureau, '{"reason":"补充材料"}', "returned"
  elseif case.state == "returned" then
    path, who, body, target = "return-responses", township, '{"response":"已补充"}',
      "township_verification"
  else
    path, who, body, target = "actions/submit_to_city", township, nil, "city_confirmation"
  end
  case.target = target
  sent = sent + 1
  local key = run .. "-" .. index .. "-" .. sent
  pending[key] = case
  local headers = {
    ["Authorization"] = who,
    ["If-Match"] = '"' .. case.version .. '"',
    ["Idempotency-Key"] = key,
    ["X-Request-Id"] = key,
  }
  if body then
    headers["Content-Type"] = "application/json"
  end
  return wrk.format("POST", "/api/v1/cases/" .. case.id .. "/" .. path, headers, body)
end

function response(status, headers, body)
  local key = headers["x-request-id"] or headers["X-Request-Id"]
  local case = pending[key]
  if case == nil then
    error("an answer for no write in flight: " .. tostring(key))
  end
  pending[key] = nil
  case.busy = false
  if status == 200 or status == 201 then
    local tag = headers["etag"] or headers["ETag"]
    case.version = tonumber(string.match(tag, "%d+"))
    case.state = case.target
  else
    failures = failures + 1
    if failures <= 3 then
      io.stderr:write("refused " .. status .. ": " .. body .. "\n")
    end
  end
end

function done(summary, latency, requests)
  -- one line the Python side parses: requests, non-2xx answers, socket errors, percentiles
  local errors = summary.errors
  io.write(string.format(
    "WRK requests=%d status_errors=%d socket_errors=%d duration_us=%d p50_us=%d p99_us=%d\n",
    summary.requests, errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
