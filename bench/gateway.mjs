// Model gateway overhead (`npm run bench:gateway`).
//
// A real `tether server run` (SQLite, temp TETHER_HOME) routes a streamed
// OpenAI chat completion to a fake upstream (a child process running this
// script with --upstream); the same requests also go to the fake upstream
// directly, alternating round by round in one run, so both see the same
// machine at the same time.
//
//   - paced stream: --chunks SSE events, one every --interval ms, each
//     carrying its emit time (performance.timeOrigin + now(), comparable
//     across processes); the client records receive − emit per event.
//     Reported: time to first byte (request sent → first body byte) and
//     per-chunk latency p50 / p99, direct vs gateway, and what the gateway adds.
//   - burst stream: --burst events written as fast as the socket takes them;
//     reported: MB/s and events/s at the client (request sent → last byte),
//     and gateway / direct. Above 100 % means the client got the burst faster
//     through the gateway, which forwards what it reads in larger writes.
//
// Targets (loopback): gateway throughput ≥ 90 % of direct, ≤ 1 ms added p99
// per chunk. Nothing is asserted: the figures are printed.
//
// Usage: node bench/gateway.mjs [--rounds N] [--chunks N] [--interval MS] [--burst N] [--bundle PATH] [--verbose]
//   --verbose  per paced run: its time to first byte and its slowest chunk
import { fork, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as http from "node:http"
import { availableParallelism, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

const parseArgs = (argv) => {
  const options = { rounds: 5, chunks: 400, interval: 2, burst: 20_000, bundle: join(root, "dist", "tether.mjs"), verbose: false }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const value = argv[i + 1]
    const number = () => {
      const n = Number(value)
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number`)
      i++
      return n
    }
    if (flag === "--rounds") options.rounds = number()
    else if (flag === "--chunks") options.chunks = number()
    else if (flag === "--interval") options.interval = number()
    else if (flag === "--burst") options.burst = number()
    else if (flag === "--bundle") (options.bundle = value), i++
    else if (flag === "--verbose") options.verbose = true
    else throw new Error(`unknown option ${flag}`)
  }
  return options
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------------------
// The fake upstream: POST /v1/chat/completions streams what the body's
// `bench` field asks for: {mode: "paced", chunks, interval} or {mode: "burst", chunks}.

const PAYLOAD = "x".repeat(64)

/** Milliseconds on a clock shared by processes on this machine, with sub-millisecond resolution. */
const now = () => performance.timeOrigin + performance.now()

const startUpstream = () =>
  new Promise((resolveStart) => {
    const server = http.createServer((request, response) => {
      let body = ""
      request.setEncoding("utf8")
      request.on("data", (d) => (body += d))
      request.on("end", () => {
        const { bench } = JSON.parse(body)
        response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
        response.flushHeaders()
        let i = 0
        let closed = false
        response.once("close", () => (closed = true))
        const event = () => `data: {"i":${i},"t":${now().toFixed(4)},"choices":[{"delta":{"content":"${PAYLOAD}"}}]}\n\n`
        const finish = () => response.end(`data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":${i}}}\n\ndata: [DONE]\n\n`)
        if (bench.mode === "paced") {
          const tick = () => {
            if (closed) return
            if (i >= bench.chunks) return finish()
            response.write(event())
            i++
            setTimeout(tick, bench.interval)
          }
          tick()
        } else {
          const pump = () => {
            while (!closed && i < bench.chunks) {
              i++
              if (!response.write(event())) return void response.once("drain", pump)
            }
            if (!closed) finish()
          }
          pump()
        }
      })
    })
    server.listen(0, "127.0.0.1", () => resolveStart({ server, url: `http://127.0.0.1:${server.address().port}` }))
  })

/** The fake upstream in a child process (this script with --upstream); resolves once it listens. */
const forkUpstream = () =>
  new Promise((resolveFork, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--upstream"], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    child.once("message", (message) => resolveFork({ child, url: message.url }))
    child.once("exit", (code) => reject(new Error(`the fake upstream exited with ${code}`)))
  })

const runUpstream = async () => {
  const { url } = await startUpstream()
  process.send({ url })
  process.on("disconnect", () => process.exit(0))
}

// ---------------------------------------------------------------------------
// The client: one streamed request, timed.

const streamOnce = (url, headers, body) =>
  new Promise((resolveRun, reject) => {
    const sent = now()
    const latencies = []
    let firstByte
    let lastByte = 0
    let bytes = 0
    let events = 0
    let pending = ""
    const request = http.request(`${url}/v1/chat/completions`, {
      method: "POST",
      agent: false,
      headers: { "content-type": "application/json", ...headers }
    }, (response) => {
      if (response.statusCode !== 200) {
        let text = ""
        response.on("data", (d) => (text += d))
        response.on("end", () => reject(new Error(`HTTP ${response.statusCode}: ${text}`)))
        return
      }
      response.setEncoding("utf8")
      response.on("data", (chunk) => {
        const at = now()
        firstByte ??= at
        lastByte = at
        bytes += Buffer.byteLength(chunk)
        pending += chunk
        let end
        while ((end = pending.indexOf("\n\n")) !== -1) {
          const message = pending.slice(0, end)
          pending = pending.slice(end + 2)
          const field = message.indexOf("\"t\":")
          if (field === -1) continue
          events++
          latencies.push(at - Number.parseFloat(message.slice(field + 4)))
        }
      })
      response.on("end", () =>
        resolveRun({ ttfb: firstByte - sent, latencies, bytes, events, seconds: (lastByte - sent) / 1000 }))
    })
    request.on("error", reject)
    request.end(JSON.stringify(body))
  })

const percentile = (sorted, p) => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]
const median = (values) => percentile([...values].sort((a, b) => a - b), 0.5)

// ---------------------------------------------------------------------------
// The server under test

const childEnv = (home, extra = {}) => {
  const env = {}
  for (const key of ["PATH", "HOME", "TMPDIR"]) if (process.env[key] !== undefined) env[key] = process.env[key]
  return { ...env, TETHER_HOME: home, NO_COLOR: "1", ...extra }
}

const startServer = (bundle, env) => {
  const child = spawn(process.execPath, [bundle, "server", "run", "--host", "127.0.0.1", "--port", "0"], {
    env,
    cwd: env.TETHER_HOME,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
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
    await exited
    clearTimeout(killer)
  }
  return { output: () => output, stop, kill: () => signal("SIGKILL"), exited }
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

const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "-")

const main = async () => {
  const options = parseArgs(process.argv.slice(2))
  if (!existsSync(options.bundle)) {
    console.error(`${options.bundle} is missing: run \`npm run build\` first (or \`npm run bench:gateway\`).`)
    process.exit(1)
  }
  const home = mkdtempSync(join(tmpdir(), "tether-bench-gateway-"))
  const password = randomBytes(18).toString("base64url")
  const upstream = await forkUpstream()
  const server = startServer(options.bundle, childEnv(home, { TETHER_PASSWORD: password, TETHER_MASTER_KEY: randomBytes(32).toString("hex") }))
  const cleanup = async () => {
    await server.stop()
    upstream.child.kill()
    rmSync(home, { recursive: true, force: true })
  }
  const interrupted = () => {
    server.kill()
    rmSync(home, { recursive: true, force: true })
    process.exit(130)
  }
  process.once("SIGINT", interrupted)
  process.once("SIGTERM", interrupted)

  try {
    const url = await waitFor("the server to listen", () => /listening on (http:\/\/\S+)/.exec(server.output())?.[1], 20_000)
    const connect = spawnSync(process.execPath, [options.bundle, "connect", `127.0.0.1:${new URL(url).port}`, "--password-stdin"], {
      env: childEnv(home),
      input: `${password}\n`,
      encoding: "utf8",
      timeout: 20_000
    })
    if (connect.status !== 0) throw new Error(`tether connect failed: ${connect.stderr}`)
    const config = JSON.parse(readFileSync(join(home, "config.json"), "utf8"))
    const token = config.contexts[config.currentContext].accessToken
    const api = async (path, body) => {
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body)
      })
      const json = await response.json()
      if (response.status >= 300) throw new Error(`${path}: HTTP ${response.status} ${JSON.stringify(json)}`)
      return json
    }
    await api("/v1/providers", { name: "bench", baseUrl: upstream.url, format: "openai-chat", apiKey: "sk-bench", models: ["m"] })
    const { secret } = await api("/v1/keys", { name: "bench" })

    const targets = {
      direct: { url: upstream.url, headers: { authorization: "Bearer sk-bench" }, model: "m" },
      gateway: { url, headers: { authorization: `Bearer ${secret}` }, model: "bench/m" }
    }
    const run = (name, bench) =>
      streamOnce(targets[name].url, targets[name].headers, {
        model: targets[name].model,
        stream: true,
        messages: [{ role: "user", content: "bench" }],
        bench
      })
    const paced = { mode: "paced", chunks: options.chunks, interval: options.interval }
    const burst = { mode: "burst", chunks: options.burst }

    console.log(
      `node ${process.version}, ${availableParallelism()} CPUs; ${options.bundle}; server ${url} (sqlite); ` +
        `${options.rounds} rounds; paced ${options.chunks} chunks every ${options.interval} ms; burst ${options.burst} chunks`
    )
    // Warm-up (JIT, connection pools), not counted.
    for (const name of ["direct", "gateway"]) {
      await run(name, { mode: "paced", chunks: 20, interval: 1 })
      await run(name, { mode: "burst", chunks: 2000 })
    }
    const results = { direct: { ttfb: [], latencies: [], mbps: [], eps: [] }, gateway: { ttfb: [], latencies: [], mbps: [], eps: [] } }
    for (let round = 0; round < options.rounds; round++) {
      process.stderr.write(`round ${round + 1}/${options.rounds} … `)
      for (const name of round % 2 === 0 ? ["direct", "gateway"] : ["gateway", "direct"]) {
        const p = await run(name, paced)
        if (options.verbose) {
          const worst = p.latencies.reduce((w, l, i) => (l > w.l ? { l, i } : w), { l: -1, i: -1 })
          process.stderr.write(`\n  ${name}: ttfb ${fmt(p.ttfb)} ms, worst chunk ${fmt(worst.l)} ms (#${worst.i})`)
        }
        results[name].ttfb.push(p.ttfb)
        results[name].latencies.push(...p.latencies)
        const b = await run(name, burst)
        results[name].mbps.push(b.bytes / 1e6 / b.seconds)
        results[name].eps.push(b.events / b.seconds)
      }
      process.stderr.write("done\n")
    }

    const summary = {}
    for (const name of ["direct", "gateway"]) {
      const sorted = [...results[name].latencies].sort((a, b) => a - b)
      summary[name] = {
        ttfb: median(results[name].ttfb),
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        mbps: median(results[name].mbps),
        eps: median(results[name].eps),
        samples: sorted.length
      }
    }
    const d = summary.direct
    const g = summary.gateway
    console.log()
    console.log("                      direct     gateway    added / ratio")
    console.log(`TTFB ms (median)     ${fmt(d.ttfb).padStart(8)}   ${fmt(g.ttfb).padStart(8)}   +${fmt(g.ttfb - d.ttfb)} ms`)
    console.log(`chunk latency p50 ms ${fmt(d.p50, 3).padStart(8)}   ${fmt(g.p50, 3).padStart(8)}   +${fmt(g.p50 - d.p50, 3)} ms`)
    console.log(`chunk latency p99 ms ${fmt(d.p99, 3).padStart(8)}   ${fmt(g.p99, 3).padStart(8)}   +${fmt(g.p99 - d.p99, 3)} ms  (target ≤ 1 ms)`)
    console.log(`burst MB/s (median)  ${fmt(d.mbps).padStart(8)}   ${fmt(g.mbps).padStart(8)}   ${fmt((100 * g.mbps) / d.mbps, 1)} %  (target ≥ 90 %)`)
    console.log(`burst events/s       ${fmt(d.eps, 0).padStart(8)}   ${fmt(g.eps, 0).padStart(8)}   ${fmt((100 * g.eps) / d.eps, 1)} %`)
    console.log(`latency samples      ${String(d.samples).padStart(8)}   ${String(g.samples).padStart(8)}`)
    console.log()
    console.log("TTFB: request sent → first body byte. Chunk latency: receive − emit per SSE event (the upstream is another process;")
    console.log("both read performance.timeOrigin + now()). Burst: request sent → last byte. Nothing is asserted.")
  } finally {
    await cleanup()
  }
}

if (process.argv.includes("--upstream")) runUpstream()
else
  main().catch((error) => {
    console.error(`bench failed: ${error.stack ?? error}`)
    process.exitCode = 1
  })
