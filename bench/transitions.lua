-- wrk driver for bench/transitions.py: each wrk thread holds exactly one connection (run with
-- -t N -c N), so its Lua state sees its requests and their answers strictly in turn and can
-- keep its cases' versions and states. The cycle per case, each step one rule-checked write:
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
local pending = nil
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
  current = current % #cases + 1
  local case = cases[current]
  pending = case
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
  local headers = {
    ["Authorization"] = who,
    ["If-Match"] = '"' .. case.version .. '"',
    ["Idempotency-Key"] = run .. "-" .. index .. "-" .. sent,
  }
  if body then
    headers["Content-Type"] = "application/json"
  end
  return wrk.format("POST", "/api/v1/cases/" .. case.id .. "/" .. path, headers, body)
end

function response(status, headers, body)
  local case = pending
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
