-- wrk script: OAuth 2.0 client_credentials token requests (RFC 6749 §4.4)
-- with HTTP Basic client authentication (client_secret_basic).
--
-- Configuration (environment variables):
--   BENCH_CLIENT_ID      client id                    (default "bench")
--   BENCH_CLIENT_SECRET  client secret                (required)
--   BENCH_PATH           token endpoint path          (default "/oauth2/token")
--   BENCH_SCOPE          scope parameter, "" = omit   (default "read")
--   BENCH_RESOURCE       resource parameter, "" = omit (default "https://api.example.com")
--   BENCH_BODY           if set and not empty, the whole form body, sent as is (e.g. a
--                        token-exchange request); BENCH_SCOPE and
--                        BENCH_RESOURCE are then ignored
--   BENCH_BASIC_ENCODING "form" (default): client id and secret are
--                        form-urlencoded before base64, as RFC 6749 §2.3.1
--                        requires; "raw": used as-is. Identical for the plain
--                        [A-Za-z0-9._~-] credentials the benchmark uses.
--
-- Usage: BENCH_CLIENT_SECRET=... wrk -t2 -c64 -d10s --latency -s cc.lua http://127.0.0.1:3000
--
-- done() prints one machine-readable line starting with "BENCH_RESULT", e.g.
--   BENCH_RESULT requests=123 non2xx=0 socket_errors=0 duration_s=10.00
--     rps=12.3 tokens_per_s=12.3 p50_ms=1.234 p90_ms=2.345 p99_ms=3.456 max_ms=9.9
-- (one line). "non2xx" counts responses whose status is outside 200-299,
-- counted in response() in every thread and summed over threads in done().
-- tokens_per_s = 2xx responses / duration.

local function env(name, default)
  local v = os.getenv(name)
  if v == nil then return default end
  return v
end

local client_id     = env("BENCH_CLIENT_ID", "bench")
local client_secret = env("BENCH_CLIENT_SECRET", nil)
local path          = env("BENCH_PATH", "/oauth2/token")
local scope         = env("BENCH_SCOPE", "read")
local resource      = env("BENCH_RESOURCE", "https://api.example.com")
local basic_enc     = env("BENCH_BASIC_ENCODING", "form")

if client_secret == nil or client_secret == "" then
  io.stderr:write("cc.lua: BENCH_CLIENT_SECRET is not set\n")
  os.exit(2)
end
if basic_enc ~= "form" and basic_enc ~= "raw" then
  io.stderr:write("cc.lua: BENCH_BASIC_ENCODING must be 'form' or 'raw'\n")
  os.exit(2)
end

-- application/x-www-form-urlencoded encoding of one value.
local function form_encode(s)
  s = string.gsub(s, "[^%w%-%._~ ]", function(c)
    return string.format("%%%02X", string.byte(c))
  end)
  return (string.gsub(s, " ", "+"))
end

-- Standard base64 (RFC 4648 §4) with padding; arithmetic only (no bit ops).
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = string.byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = string.sub(b64chars, c1 + 1, c1 + 1)
    out[#out + 1] = string.sub(b64chars, c2 + 1, c2 + 1)
    out[#out + 1] = b and string.sub(b64chars, c3 + 1, c3 + 1) or "="
    out[#out + 1] = c and string.sub(b64chars, c4 + 1, c4 + 1) or "="
  end
  return table.concat(out)
end

local user, pass = client_id, client_secret
if basic_enc == "form" then
  user, pass = form_encode(client_id), form_encode(client_secret)
end

local params = { "grant_type=client_credentials" }
if scope ~= "" then params[#params + 1] = "scope=" .. form_encode(scope) end
if resource ~= "" then params[#params + 1] = "resource=" .. form_encode(resource) end

-- Static request: wrk pre-builds it once per thread with wrk.format().
wrk.method = "POST"
wrk.path = path
local body = os.getenv("BENCH_BODY")
if body == nil or body == "" then body = table.concat(params, "&") end
wrk.body = body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Basic " .. base64(user .. ":" .. pass)

---------------------------------------------------------------------------
-- Per-thread counters (each wrk thread has its own Lua state).

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

-- Globals of each thread's Lua state, read from the main state via thread:get.
responses = 0
non2xx = 0
statuses = {}       -- non-2xx status code -> count
first_bad_body = "" -- body of the first non-2xx response seen by this thread

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    statuses[status] = (statuses[status] or 0) + 1
    if first_bad_body == "" then
      first_bad_body = string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local total_responses, total_non2xx = 0, 0
  local codes, sample = {}, nil
  for _, t in ipairs(threads) do
    total_responses = total_responses + (t:get("responses") or 0)
    total_non2xx = total_non2xx + (t:get("non2xx") or 0)
    local st = t:get("statuses")
    if type(st) == "table" then
      for code, n in pairs(st) do
        codes[code] = (codes[code] or 0) + n
      end
    end
    local b = t:get("first_bad_body")
    if sample == nil and b ~= nil and b ~= "" then sample = b end
  end

  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local duration_s = summary.duration / 1e6
  local rps = summary.requests / duration_s
  local ok = summary.requests - total_non2xx
  if ok < 0 then ok = 0 end
  local tokens_per_s = ok / duration_s

  local code_list = {}
  for code, n in pairs(codes) do code_list[#code_list + 1] = code .. ":" .. n end
  table.sort(code_list)
  local codes_str = (#code_list > 0) and table.concat(code_list, ",") or "-"

  io.write(string.format(
    "BENCH_RESULT requests=%d responses=%d non2xx=%d non2xx_codes=%s socket_errors=%d" ..
    " (connect=%d read=%d write=%d timeout=%d) duration_s=%.2f rps=%.1f tokens_per_s=%.1f" ..
    " p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, total_responses, total_non2xx, codes_str, socket_errors,
    e.connect, e.read, e.write, e.timeout, duration_s, rps, tokens_per_s,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  if sample ~= nil then
    io.write("BENCH_NON2XX_SAMPLE " .. (string.gsub(sample, "[\r\n]", " ")) .. "\n")
  end
end
