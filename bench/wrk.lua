-- One JSON line of results at the end of a wrk run, counting answers by status.
-- BENCH_MODE: get (plain), etag (If-None-Match), demo or inquiry (form POSTs).
local mode = os.getenv("BENCH_MODE") or "get"
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do lines[#lines + 1] = line end
  return lines
end

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  statuses = {}
  n = 0
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
  if mode == "etag" then
    wrk.headers["If-None-Match"] = os.getenv("BENCH_ETAG")
  elseif mode == "demo" or mode == "inquiry" then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
    wrk.headers["Origin"] = os.getenv("BENCH_ORIGIN")
    wrk.headers["Referer"] = os.getenv("BENCH_ORIGIN") .. "/"
    base = "csrf_token=" .. urlencode(os.getenv("BENCH_CSRF")) .. "&started=" .. urlencode(os.getenv("BENCH_STARTED"))
      .. "&privacy_notice=y&website=&name=Bench+Person"
    if mode == "demo" then
      slots = read_lines(os.getenv("BENCH_SLOTS"))
      base = base .. "&time_zone=Europe%2FStockholm&company=Bench+AB&country=SE&users=10&phone=&message="
    else
      base = base .. "&request_type=access&details="
    end
  end
end

function request()
  if mode ~= "demo" and mode ~= "inquiry" then return wrk.format() end
  n = n + 1
  local run = os.getenv("BENCH_RUN") or "0"
  local id = run .. "-" .. tostring(tid) .. "-" .. tostring(n)
  local body = base .. "&email=bench-" .. mode .. "-" .. id .. "%40example.com"
  if mode == "demo" then
    local index = tonumber(os.getenv("BENCH_SLOT_OFFSET") or "0") + (n - 1) * nthreads + tid
    body = body .. "&slot=" .. urlencode(slots[index] or "exhausted")
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, count in pairs(s) do totals[code] = (totals[code] or 0) + count end
  end
  local parts = {}
  for code, count in pairs(totals) do parts[#parts + 1] = string.format('"%d": %d', code, count) end
  local errors = summary.errors
  io.write(string.format(
    '\nBENCH {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
    '"socket_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors.connect + errors.read + errors.write + errors.timeout, table.concat(parts, ", ")))
end
