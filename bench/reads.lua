-- wrk driver for bench/reads.py. Modes (BENCH_MODE):
--   case     GET /api/v1/cases/{id} over the cases in BENCH_CASES, in turn
--   actions  GET /api/v1/cases/{id}/actions likewise
--   floor    GET /health, without a token: what the server and its stack cost a request that
--            does nothing (no token to check, no database)
--   open     POST /api/v1/cases: a self-declaration with a new household each time, its head's
--            ID number made valid here (GB 11643 check character), unique per thread and request,
--            with an Idempotency-Key of its own, as the console sends (BENCH_RUN, the thread,
--            the request's number)
local mode, token, cases, current
local serial = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("index", threads)
end

function init(args)
  mode = os.getenv("BENCH_MODE")
  token = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
  cases = {}
  for id in string.gmatch(os.getenv("BENCH_CASES") or "", "[^,]+") do
    table.insert(cases, id)
  end
  current = index - 1
end

local weights = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 }
local checks = "10X98765432"

local function id_number(prefix)
  local sum = 0
  for i = 1, 17 do
    sum = sum + tonumber(string.sub(prefix, i, i)) * weights[i]
  end
  local at = sum % 11 + 1
  return prefix .. string.sub(checks, at, at)
end

function request()
  if mode == "floor" then
    return wrk.format("GET", "/health")
  end
  local headers = { ["Authorization"] = token }
  if mode == "open" then
    serial = serial + 1
    -- a birth date per (thread, thousand), a serial within it: 220281 YYYYMMDD SSS
    local day = (index - 1) * 400 + math.floor(serial / 1000)
    local year = 1930 + math.floor(day / 336)
    local month = math.floor(day % 336 / 28) + 1
    local date = string.format("%04d%02d%02d", year, month, day % 28 + 1)
    local number = id_number("220281" .. date .. string.format("%03d", serial % 1000))
    headers["Content-Type"] = "application/json"
    headers["Idempotency-Key"] = os.getenv("BENCH_RUN") .. "-" .. index .. "-" .. serial
    local body = '{"channel":"self_declared","application_sha256":"' .. string.rep("c", 64) ..
      '","household":{"head_name":"王德福","head_id_number":"' .. number ..
      '","village_code":"220281102200","size":3}}'
    return wrk.format("POST", "/api/v1/cases", headers, body)
  end
  current = current % #cases + 1
  local path = "/api/v1/cases/" .. cases[current]
  if mode == "actions" then
    path = path .. "/actions"
  end
  return wrk.format("GET", path, headers)
end

local failures = 0

function response(status, headers, body)
  if status >= 300 then
    failures = failures + 1
    if failures <= 3 then
      io.stderr:write("answered " .. status .. ": " .. string.sub(body, 1, 300) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "WRK requests=%d status_errors=%d socket_errors=%d duration_us=%d p50_us=%d p99_us=%d\n",
    summary.requests, errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
