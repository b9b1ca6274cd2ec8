// Session event throughput and latency, end to end (`npm run bench:events`).
//
// A real `tether server run` (SQLite) and a real `tether host` on 127.0.0.1
// (temp TETHER_HOMEs, TETHER_PASSWORD), and for each case a shell-harness
// session whose command prints lines `<i> <emit time, ms>`: in a burst, as fast
// as its pipe takes them, or paced. S subscribers follow the session's SSE
// stream from worker processes; all of them are connected before the command
// is told to start (a message on its stdin), so the numbers are live
// delivery, not history replay.
//
// Reported per case:
//   - events/s at a subscriber: (lines received - 1) / (last line received -
//     first line received), median and slowest over the subscribers: the
//     whole path runner → server (stored) → SSE → client;
//   - deliveries/s: lines received at all subscribers / (last receipt
//     anywhere - first receipt anywhere);
//   - latency per line (receive time - emit time, wall clock of this one
//     machine): p50, p99 and max over every line at every subscriber. In a
//     burst this is mostly queueing behind the lines before it; the paced case
//     shows the unloaded path;
//   - reconnects: subscribers cut off for falling behind (they resume with
//     Last-Event-ID, as EventSource would).
// Burst cases send min(--lines, 100 000 / subscribers) lines (at least 100),
// so 1000 subscribers get 100 lines. Nothing is asserted. Each case is bounded
// (60 s by default; a case out of time reports what arrived so far) and
// everything started here is stopped and removed at the end.
//
// Usage: node bench/events.mjs [--lines N] [--cases 1,100,1000] [--case-timeout SECONDS] [--no-paced] [--bundle PATH]
//   --bundle  the CLI to run (default dist/tether.mjs), e.g. another build to compare
import { fork, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import * as http from "node:http"
import { availableParallelism, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { apiClient, connectForToken } from "./support/admin-api.mjs"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
let bundle = join(root, "dist", "tether.mjs")
const self = fileURLToPath(import.meta.url)

/** Lines × subscribers per burst case at most, so a case fits its time bound on a small machine. */
const DELIVERY_BUDGET = 100_000

/** Latency histogram resolution: 0.1 ms buckets up to this many ms (later ones share the last bucket). */
const HISTOGRAM_MS = 60_000
const BUCKETS_PER_MS = 10

// ---------------------------------------------------------------------------
// Worker: holds a share of the subscribers

/**
 * One SSE subscriber. Parses just enough of each message: `id` (to resume),
 * `event`, and from the data the line text of assistant messages and the
 * status of status events (string search, not JSON: a thousand of these share
 * a process).
 */
const subscribe = ({ url, token, sessionId }, onLine, onReady, onDone) => {
  const state = { first: 0, last: 0, lines: 0, reconnects: 0, connected: false, finished: false }
  let lastId = 0
  let request
  const connect = () => {
    const headers = { accept: "text/event-stream", authorization: `Bearer ${token}`, "last-event-id": String(lastId) }
    request = http.get(`${url}/v1/sessions/${sessionId}/stream`, { headers, agent: false }, (response) => {
      if (response.statusCode !== 200) {
        response.resume()
        onDone(state, `HTTP ${response.statusCode}`)
        return
      }
      response.setEncoding("utf8")
      let buffer = ""
      response.on("data", (chunk) => {
        if (!state.connected) {
          state.connected = true
          onReady()
        }
        buffer += chunk
        let end
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const message = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (message.startsWith(":")) continue
          const id = /^id: (\d+)$/m.exec(message)
          if (id !== null) lastId = Number(id[1])
          if (message.includes("\nevent: message\n") && message.includes('"role":"assistant"')) {
            const text = /"text":"(\d+) ([\d.]+)"/.exec(message)
            if (text === null) continue
            const now = performance.timeOrigin + performance.now()
            if (state.lines === 0) state.first = now
            state.last = now
            state.lines++
            onLine(now - Number(text[2]))
          } else if (message.includes("\nevent: status\n") && /"status":"(exited|failed)"/.test(message)) {
            state.finished = true
            request.destroy()
            onDone(state, undefined)
            return
          }
        }
      })
      response.on("end", () => {
        if (state.finished) return
        // Cut off (too slow): resume after the last id, as EventSource would.
        state.reconnects++
        connect()
      })
      response.on("error", () => {})
    })
    request.on("error", (error) => {
      if (!state.finished) onDone(state, error.message)
    })
  }
  connect()
  return { close: () => request?.destroy(), state }
}

const runWorker = () => {
  process.on("message", (job) => {
    if (job.type !== "start") return
    const histogram = new Uint32Array(HISTOGRAM_MS * BUCKETS_PER_MS + 1)
    const onLine = (latencyMs) => {
      const bucket = Math.max(0, Math.min(histogram.length - 1, Math.round(latencyMs * BUCKETS_PER_MS)))
      histogram[bucket]++
    }
    let ready = 0
    let done = 0
    let reported = false
    const errors = []
    const subscribers = []
    /** Sends what was measured (all of it, or so far when the coordinator asks) and exits. */
    const report = () => {
      if (reported) return
      reported = true
      for (const s of subscribers) s.close()
      const sparse = []
      histogram.forEach((n, bucket) => n > 0 && sparse.push([bucket, n]))
      process.send({ type: "result", subscribers: subscribers.map((s) => s.state), histogram: sparse, errors: errors.slice(0, 5) }, () =>
        process.exit(0))
    }
    const onReady = () => {
      if (++ready === job.count) process.send({ type: "ready" })
    }
    const onDone = (_state, error) => {
      if (error !== undefined) errors.push(error)
      if (++done === job.count) report()
    }
    for (let i = 0; i < job.count; i++) subscribers.push(subscribe(job, onLine, onReady, onDone))
    process.on("message", (message) => message.type === "report" && report())
    process.on("disconnect", () => {
      for (const s of subscribers) s.close()
      process.exit(0)
    })
  })
  process.send({ type: "alive" })
}

// ---------------------------------------------------------------------------
// Coordinator

const USAGE =
  "usage: node bench/events.mjs [--lines N] [--cases 1,100,1000] [--case-timeout SECONDS] [--no-paced] [--bundle PATH]"

const parseArgs = (argv) => {
  const options = { lines: 20_000, cases: [1, 100, 1000], caseTimeoutMs: 60_000, paced: true }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--no-paced") {
      options.paced = false
      continue
    }
    const [flag, inline] = argv[i].split("=", 2)
    const value = inline ?? argv[++i]
    if (flag === "--lines") options.lines = Number(value)
    else if (flag === "--cases") options.cases = String(value).split(",").map(Number)
    else if (flag === "--case-timeout") options.caseTimeoutMs = Number(value) * 1000
    else if (flag === "--bundle") options.bundle = resolve(String(value))
    else {
      console.error(`unknown option ${argv[i]}\n${USAGE}`)
      process.exit(2)
    }
  }
  const positiveInts = [options.lines, ...options.cases, options.caseTimeoutMs].every((n) => Number.isInteger(n) && n > 0)
  if (!positiveInts || options.caseTimeoutMs > 600_000) {
    console.error("--lines, --cases and --case-timeout (at most 600) take positive whole numbers")
    process.exit(2)
  }
  return options
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** The environment of a child: PATH, HOME and TMPDIR only, then `extra`. */
const childEnv = (home, extra = {}) => {
  const env = {}
  for (const key of ["PATH", "HOME", "TMPDIR"]) if (process.env[key] !== undefined) env[key] = process.env[key]
  return { ...env, TETHER_HOME: home, NO_COLOR: "1", ...extra }
}

/** A long-running child in its own process group, with its output collected. */
const startProcess = (args, env) => {
  const child = spawn(process.execPath, [bundle, ...args], { env, cwd: env.TETHER_HOME, stdio: ["ignore", "pipe", "pipe"], detached: true })
  let output = ""
  child.stdout.setEncoding("utf8").on("data", (d) => (output += d))
  child.stderr.setEncoding("utf8").on("data", (d) => (output += d))
  const exited = new Promise((r) => child.once("exit", (code, signal) => r(code ?? signal)))
  const signal = (sig) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    try {
      process.kill(-child.pid, sig)
    } catch {
      // gone
    }
  }
  const stop = async () => {
    signal("SIGTERM")
    const killer = setTimeout(() => signal("SIGKILL"), 10_000)
    const result = await exited
    clearTimeout(killer)
    return result
  }
  return { child, output: () => output, exited, stop, kill: () => signal("SIGKILL") }
}

const waitFor = async (what, check, timeoutMs) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

const percentileOf = (sparse, total, p) => {
  const target = Math.max(1, Math.ceil(total * p))
  let seen = 0
  for (const [bucket, n] of sparse) {
    seen += n
    if (seen >= target) return bucket / BUCKETS_PER_MS
  }
  return NaN
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]
}

/**
 * Prints `argv[1]` lines `<i> <emit time, ms>` once a line arrives on stdin:
 * as fast as stdout takes them, or `argv[2]` lines per second (in 10 ms steps).
 */
const EMITTER = `
const n = Number(process.argv[1]), rate = Number(process.argv[2]); let i = 0
const line = () => { i++; return process.stdout.write(i + " " + (performance.timeOrigin + performance.now()).toFixed(3) + "\\n") }
const burst = () => { while (i < n) if (!line()) return void process.stdout.once("drain", burst) }
const paced = () => { for (let k = 0; k < Math.max(1, rate / 100) && i < n; k++) line(); if (i < n) setTimeout(paced, 10) }
process.stdin.once("data", () => { process.stdin.destroy(); rate > 0 ? paced() : burst() })
`

/** The subscribers' results merged into one table row. */
const summarize = (row, results, lines) => {
  const states = results.flatMap((r) => r.subscribers)
  const merged = new Map()
  for (const r of results) for (const [bucket, n] of r.histogram) merged.set(bucket, (merged.get(bucket) ?? 0) + n)
  const sparse = [...merged].sort((a, b) => a[0] - b[0])
  const samples = sparse.reduce((sum, [, n]) => sum + n, 0)
  const receiving = states.filter((s) => s.lines > 1)
  const rates = receiving.map((s) => (s.lines - 1) / ((s.last - s.first) / 1000))
  const first = Math.min(...receiving.map((s) => s.first))
  const last = Math.max(...receiving.map((s) => s.last))
  return {
    ...row,
    complete: states.filter((s) => s.lines === lines).length,
    rateMedian: rates.length === 0 ? NaN : median(rates),
    rateMin: Math.min(...rates),
    deliveriesPerSecond: samples / ((last - first) / 1000),
    p50: percentileOf(sparse, samples, 0.5),
    p99: percentileOf(sparse, samples, 0.99),
    max: sparse.length === 0 ? NaN : sparse[sparse.length - 1][0] / BUCKETS_PER_MS,
    reconnects: states.reduce((sum, s) => sum + s.reconnects, 0),
    errors: results.flatMap((r) => r.errors)
  }
}

const runCase = async ({ api, url, token, cwd }, { subscribers, lines, rate }, timeoutMs) => {
  const created = await api("POST", "/v1/sessions", {
    harness: "shell",
    hostId: "bench",
    cwd,
    title: `bench ${subscribers}x${lines}`,
    args: [process.execPath, "-e", EMITTER, String(lines), String(rate)]
  })
  if (created.status !== 201) throw new Error(`creating the session: HTTP ${created.status} ${JSON.stringify(created.body)}`)
  const sessionId = created.body.id

  const workerCount = Math.max(1, Math.min(Math.ceil(subscribers / 250), Math.max(1, availableParallelism() - 1), 4))
  const workers = []
  const results = []
  const started = Date.now()
  let timedOut = false
  let timer
  try {
    await new Promise((resolveCase, rejectCase) => {
      timer = setTimeout(() => {
        // Out of time: take what the subscribers measured so far.
        timedOut = true
        for (const worker of workers) if (worker.connected) worker.send({ type: "report" })
        timer = setTimeout(() => rejectCase(new Error("the subscribers did not report")), 10_000)
      }, timeoutMs)
      let ready = 0
      for (let w = 0; w < workerCount; w++) {
        const count = Math.floor(subscribers / workerCount) + (w < subscribers % workerCount ? 1 : 0)
        const worker = fork(self, ["--worker"], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
        workers.push(worker)
        worker.on("message", (message) => {
          if (message.type === "alive") worker.send({ type: "start", url, token, sessionId, count })
          else if (message.type === "ready" && ++ready === workerCount) {
            // Everyone listens: let the command start printing.
            api("POST", `/v1/sessions/${sessionId}/events`, { type: "message", text: "go" }).catch(rejectCase)
          } else if (message.type === "result") {
            results.push(message)
            if (results.length === workerCount) resolveCase()
          }
        })
        worker.on("exit", (code) => {
          if (code !== 0 && results.length < workerCount) rejectCase(new Error(`a subscriber worker exited with ${code}`))
        })
      }
    })
  } catch (error) {
    return { subscribers, lines, rate, error: error.message, wallMs: Date.now() - started }
  } finally {
    clearTimeout(timer)
    for (const worker of workers) if (worker.connected) worker.disconnect()
    await Promise.all(workers.map((w) => (w.exitCode === null && w.signalCode === null ? new Promise((r) => w.once("exit", r)) : null)))
    const session = await api("GET", `/v1/sessions/${sessionId}`)
    if (session.body?.status !== "exited" && session.body?.status !== "failed") {
      await api("POST", `/v1/sessions/${sessionId}/events`, { type: "stop" })
    }
  }
  return summarize({ subscribers, lines, rate, timedOut, wallMs: Date.now() - started }, results, lines)
}

const printTable = (rows) => {
  const fmt = (n, digits = 0) =>
    n === undefined || !Number.isFinite(n) ? "-" : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
  const header = ["subscribers", "lines", "emit", "complete", "events/s med", "events/s min", "deliveries/s", "p50 ms", "p99 ms", "max ms", "reconnects", "wall s"]
  const cells = rows.map((r) => {
    const head = [fmt(r.subscribers), fmt(r.lines), r.rate === 0 ? "burst" : `${fmt(r.rate)}/s`]
    if (r.error !== undefined) return [...head, `FAILED: ${r.error}`, "", "", "", "", "", "", "", fmt(r.wallMs / 1000, 1)]
    return [
      ...head,
      `${r.complete}/${r.subscribers}${r.timedOut ? " (timed out)" : ""}`,
      fmt(r.rateMedian),
      fmt(r.rateMin),
      fmt(r.deliveriesPerSecond),
      fmt(r.p50, 1),
      fmt(r.p99, 1),
      fmt(r.max, 1),
      fmt(r.reconnects),
      fmt(r.wallMs / 1000, 1)
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)))
  const line = (c) => c.map((x, i) => (x ?? "").padStart(widths[i])).join("  ")
  console.log(line(header))
  console.log(widths.map((w) => "-".repeat(w)).join("  "))
  cells.forEach((c) => console.log(line(c)))
}

const main = async () => {
  const options = parseArgs(process.argv.slice(2))
  bundle = options.bundle ?? bundle
  if (!existsSync(bundle)) {
    console.error(`${bundle} is missing: run \`npm run build\` first (or \`npm run bench:events\`).`)
    process.exit(1)
  }
  const serverHome = mkdtempSync(join(tmpdir(), "tether-bench-server-"))
  const hostHome = mkdtempSync(join(tmpdir(), "tether-bench-host-"))
  const password = randomBytes(18).toString("base64url")
  const processes = []
  let cleaned = false
  const cleanup = async () => {
    if (cleaned) return
    cleaned = true
    // The host first (it stops its sessions), then the server.
    for (const p of [...processes].reverse()) await p.stop()
    rmSync(serverHome, { recursive: true, force: true })
    rmSync(hostHome, { recursive: true, force: true })
  }
  const interrupted = () => {
    for (const p of processes) p.kill()
    rmSync(serverHome, { recursive: true, force: true })
    rmSync(hostHome, { recursive: true, force: true })
    process.exit(130)
  }
  process.once("SIGINT", interrupted)
  process.once("SIGTERM", interrupted)

  try {
    const server = startProcess(["server", "run", "--host", "127.0.0.1", "--port", "0"], childEnv(serverHome, { TETHER_PASSWORD: password }))
    processes.push(server)
    const url = await waitFor("the server to listen", () => /listening on (http:\/\/\S+)/.exec(server.output())?.[1], 20_000)
    const token = connectForToken({ bundle, url, home: serverHome, env: childEnv(serverHome), password, timeoutMs: 20_000 })
    const api = apiClient(url, token)

    const host = startProcess(["host", "--name", "bench"], childEnv(hostHome, { TETHER_SERVER: url, TETHER_TOKEN: token }))
    processes.push(host)
    await waitFor("the host to come online", async () => (await api("GET", "/v1/hosts")).body.hosts.some((h) => h.name === "bench" && h.online), 20_000)

    console.log(
      `node ${process.version}, ${availableParallelism()} CPUs; ${bundle}; server ${url} (sqlite), one host; case bound ${options.caseTimeoutMs / 1000} s`
    )
    const rows = []
    const cases = [
      ...options.cases.map((subscribers) => ({
        subscribers,
        lines: Math.min(options.lines, Math.max(100, Math.floor(DELIVERY_BUDGET / subscribers))),
        rate: 0
      })),
      // Unloaded latency: one subscriber, a steady trickle.
      ...(options.paced ? [{ subscribers: 1, lines: 1000, rate: 500 }] : [])
    ]
    for (const c of cases) {
      process.stderr.write(`case: ${c.subscribers} subscriber(s), ${c.lines} lines, ${c.rate === 0 ? "burst" : `${c.rate}/s`} … `)
      const row = await runCase({ api, url, token, cwd: hostHome }, c, options.caseTimeoutMs)
      process.stderr.write(row.error === undefined ? `${(row.wallMs / 1000).toFixed(1)} s${row.timedOut ? " (timed out)" : ""}\n` : `${row.error}\n`)
      for (const error of row.errors ?? []) process.stderr.write(`  subscriber error: ${error}\n`)
      rows.push(row)
    }
    console.log()
    printTable(rows)
    console.log()
    console.log("events/s: lines per second at one subscriber, first line to last (runner → server → SSE);")
    console.log("latency: receive − emit per line at every subscriber; reconnects: cut off as too slow, resumed with Last-Event-ID.")
  } finally {
    await cleanup()
  }
}

if (process.argv.includes("--worker")) runWorker()
else
  main().catch((error) => {
    console.error(`bench failed: ${error.stack ?? error}`)
    process.exitCode = 1
  })
