-- wrk script for bench/intake_load.py: POSTs a new complaint per request (unique details, so
-- none is a duplicate), over the API (Bearer key) or the public form (double-submit token).
-- Environment: BENCH_MODE=api|form, BENCH_KEY (API key), BENCH_TOKEN (form CSRF token).
local mode = os.getenv("BENCH_MODE") or "api"
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local function body_of(n)
  local mark = string.format("bench %s %d-%d", mode, thread_id, n)
  if mode == "api" then
    return string.format(
      '{"kind":"abuse","reporter":{"email":"soc@victim.example"},"ip":"198.51.100.45",' ..
      '"occurred_at":"2026-10-20T12:12:00+09:00","category":"service-disruption",' ..
      '"details":"%s"}', mark)
  end
  return "csrf_token=" .. os.getenv("BENCH_TOKEN") ..
    "&reporter_email=soc%40victim.example&ip=198.51.100.45&occurred_at=2026-10-20T12%3A12" ..
    "&category=service-disruption&details=" .. mark:gsub(" ", "+")
end

function request()
  counter = counter + 1
  local headers = {}
  if mode == "api" then
    headers["Content-Type"] = "application/json"
    headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
    return wrk.format("POST", "/api/v1/complaints", headers, body_of(counter))
  end
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["Cookie"] = "td_form_csrf=" .. os.getenv("BENCH_TOKEN")
  return wrk.format("POST", "/forms/abuse", headers, body_of(counter))
end

function done(summary, latency, requests)
  io.write(string.format("RESULT %d %.3f %.3f %.3f %d %d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
