-- Requests from a file, one per line: METHOD \t PATH \t BODY \t HEADERS (name: value, joined by \31).
-- Each wrk thread takes every n-th line, so no two threads send the same request; a thread
-- that runs out starts again at its first line (fine for reads; the harness sizes the
-- one-shot lists — confirm, fund — so they do not run out, and counts non-2xx answers).
-- START skips the lines earlier runs already sent (one-shot lists continue where they stopped).
-- Usage: wrk ... -s wrk.lua URL -- FILE NTHREADS [START]
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads, start = args[1], tonumber(args[2]), tonumber(args[3] or "0")
  reqs = {}
  local i = 0
  for line in io.lines(file) do
    if i >= start and (i - start) % nthreads == tid then
      local method, path, body, headers = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local h = {}
      for pair in headers:gmatch("[^\31]+") do
        local k, v = pair:match("^([^:]+): (.*)$")
        h[k] = v
      end
      if body == "" then body = nil end
      table.insert(reqs, wrk.format(method, path, h, body))
    end
    i = i + 1
  end
  -- Fewer lines than threads: this thread would have none (wrk stops a thread whose request()
  -- gives nil), so it shares the first line.
  if #reqs == 0 then
    for line in io.lines(file) do
      local method, path, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t")
      if body == "" then body = nil end
      table.insert(reqs, wrk.format(method, path, {}, body))
      break
    end
  end
  -- wrk calls request() once on the first thread's state before the run, to check what it
  -- gives (script_verify_request in wrk.c), and never sends that one: the first thread starts
  -- with a spare copy of its first request, or a one-shot list would lose its first line.
  spare = 0
  if tid == 0 then
    table.insert(reqs, 1, reqs[1])
    spare = 1
  end
  idx = 0
end

function request()
  idx = idx + 1
  if idx > #reqs then idx = 1 end
  return reqs[idx]
end

-- Any answer but a 2xx counts as an error (wrk itself counts only >= 400: a redirect to the
-- login page would pass for a fast page).
non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local e = summary.errors
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non2xx") or 0) end
  -- How far into the file any thread got (lines after START), so that the next run of a
  -- one-shot list starts past every line sent, whatever the threads' uneven progress.
  -- A thread that lagged behind the farthest left lines before that point unsent: "used" (lines
  -- sent per thread, by tid) lets the harness send those before the next run of the list.
  local consumed = 0
  local used_by_tid = {}
  for _, t in ipairs(threads) do
    local used = math.max((t:get("idx") or 0) - (t:get("spare") or 0), 0)
    local n = #threads
    used_by_tid[t:get("tid") + 1] = used
    if used > 0 then
      consumed = math.max(consumed, t:get("tid") + n * (used - 1) + 1)
    end
  end
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d, "consumed": %d, "used": [%s]}\n',
    summary.requests, summary.duration, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), consumed, table.concat(used_by_tid, ", ")))
end
