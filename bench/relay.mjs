// Terminal relay benchmark (`npm run bench:relay`).
//
// Measures, in one run, on 127.0.0.1 only:
//   baselines  raw node-pty reading a program that prints BENCH_MB MB ('x' bytes from
//              `head -c N /dev/zero | tr '\0' x`, started by typing a line); raw loopback
//              WebSocket throughput with `ws` (server in a child process, 64 KiB binary
//              messages); node-pty echo latency of `stty raw -echo; cat`; and, to explain the
//              relay's figures, the server's screen mirror alone (headless xterm parsing the
//              same bytes, then serializing screen + scrollback as a SNAPSHOT does);
//   relay      the same programs as `terminal` sessions: PTY → runner (a real `tether host`
//              process) → server (a real `tether server run` process, SQLite in a temp
//              TETHER_HOME) → viewers (WebSocket clients in worker processes, which ACK every
//              256 KiB as Tether's web client does, and the tail of a burst after 20 ms):
//              - throughput to one viewer and its ratio to raw node-pty (each relay run paired with a raw
//                node-pty run just before it; the median of the pairs' ratios); server (and runner)
//                CPU ms per MB relayed (utime+stime from /proc/<pid>/stat), the server's split
//                by thread (/proc/<pid>/task/<tid>/stat): main thread, mirror worker, the rest;
//              - keystroke echo latency: one byte of INPUT, sequentially, until the echoed
//                OUTPUT arrives, next to direct node-pty echo of the same program;
//              - one PTY fanned out to 1, 10 and 100 viewers (every byte to every viewer;
//                time until all have all of it);
//              - the 10-viewer run with one viewer stalled (it stops reading its socket and
//                never ACKs), alternating with normal runs: the others' completion time, and
//                the server's RSS growth (VmRSS from /proc/<pid>/status);
//              - late join after the big run: time from a new viewer's RESUME to its SNAPSHOT;
//              - server RSS per idle terminal session (`sleep 600` sessions, each viewed once).
// Prints the figures, the targets next to them and whether each is met. Nothing is asserted.
//
// Usage: node bench/relay.mjs [--bundle PATH]      (`npm run bench:relay` builds first)
// Environment:
//   BENCH_MB       MB (10^6 bytes) per throughput run, default 100 (100 viewers get a fifth)
//   BENCH_REPEAT   runs of the repeated cases (raw node-pty, 1 viewer, 10 viewers ± stall), default 3
//   BENCH_IDLE     idle sessions, default 50;  BENCH_KEYS  keystrokes, default 2000
//   BENCH_CASES    relay cases to run, default idle,one,ten,hundred,echo (the baselines always run); also
//                  forward: a second server instance on one PostgreSQL database, viewers forwarded through it
//   BENCH_PG       for forward: a PostgreSQL URL to create the throwaway database from
//                  (default postgres://postgres@127.0.0.1:5432/test)
//   TETHER_TERMINAL_*  passed on to the server and the host (e.g. TETHER_TERMINAL_SCROLLBACK=1000 to compare)
//   BENCH_PROFILE  a directory: run the server and the host with --cpu-prof into it
//   BENCH_NODE_FLAGS  node flags for the tether children (e.g. --trace-gc, which NODE_OPTIONS refuses)
//   BENCH_LOG      a directory: write each tether child's stdout and stderr there (<command>-<pid>.log)
// Every case is bounded in time (2 minutes) and the whole run stops after 9 minutes; every
// process and temp dir started here is stopped and removed at the end (also on Ctrl-C).
import { execFileSync, fork, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { createServer as createNetServer } from "node:net"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import WebSocket, { WebSocketServer } from "ws"
import { apiClient, connectForToken } from "./support/admin-api.mjs"

const require = createRequire(import.meta.url)
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const self = fileURLToPath(import.meta.url)
let bundle = join(root, "dist", "tether.mjs")

const MB = 1_000_000
const KiB = 1024
const positive = (name, fallback) => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`${name} must be a positive number, got ${raw}`)
    process.exit(2)
  }
  return n
}
const BENCH_MB = positive("BENCH_MB", 100)
const IDLE_SESSIONS = Math.round(positive("BENCH_IDLE", 50))
/** How long the server's CPU is read while idle, before and after the idle sessions start. */
const IDLE_CPU_MS = 5000
const KEYSTROKES = Math.round(positive("BENCH_KEYS", 2000))
const WARMUP_KEYS = Math.min(200, Math.ceil(KEYSTROKES / 10))
const TOTAL_BYTES = Math.round(BENCH_MB * MB)
const REPEAT = Math.round(positive("BENCH_REPEAT", 3))
/** Bytes each viewer receives in the fan-out cases (100 viewers get less: 100 copies share the machine's cores). */
const FANOUT_BYTES = { 10: TOTAL_BYTES, 100: Math.max(64 * KiB, Math.round(TOTAL_BYTES / 5)) }
const STALL_VIEWERS = 10
const ALL_CASES = ["idle", "one", "ten", "hundred", "echo"]
/** Cases run only when asked for: forward (two server instances on PostgreSQL, BENCH_PG). */
const OPTIONAL_CASES = ["forward"]
/** Relay cases to run (the baselines always run): idle, one (1 viewer + late joins), ten (10 viewers ± a stalled one), hundred, echo. */
const CASES = new Set((process.env.BENCH_CASES ?? ALL_CASES.join(",")).split(",").map((c) => c.trim()).filter((c) => c !== ""))
for (const c of CASES) {
  if (!ALL_CASES.includes(c) && !OPTIONAL_CASES.includes(c)) {
    console.error(`BENCH_CASES: unknown case ${c} (cases: ${[...ALL_CASES, ...OPTIONAL_CASES].join(",")})`)
    process.exit(2)
  }
}
const VIEWERS_PER_WORKER = 50
const CASE_TIMEOUT_MS = 120_000
const RUN_TIMEOUT_MS = 9 * 60_000
/** Viewers ACK as Tether's web client does (web/src/terminal/client.ts): every 256 KiB (`tether attach` acks each frame once stdout took it). */
const ACK_EVERY = 256 * KiB

const TARGETS = {
  throughputRatio: 0.85,
  cpuMsPerMB: 7,
  echoP50: 0.5,
  echoP99: 3,
  stallSlowdown: 1.5,
  stallRssMB: 16,
  snapshotMs: 50,
  idleRssMB: 2
}

const now = () => performance.timeOrigin + performance.now()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** The program every throughput case runs: waits for a line, then prints `bytes` × 'x'. */
const generator = (bytes) => ["sh", "-c", `read go; head -c ${bytes} /dev/zero | tr '\\0' x`]
/** The echo program: raw mode, no tty echo, `cat` writes back every byte it reads. */
const ECHO_PROGRAM = ["sh", "-c", "stty raw -echo; echo READY; exec cat"]

// ---------------------------------------------------------------------------
// /proc readings

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/** utime + stime from a /proc stat line, in ms (resolution 1000 / CLK_TCK). */
const statCpuMs = (stat) => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK
}

/** utime + stime of a process (all its threads), in ms. */
const cpuMs = (pid) => statCpuMs(readFileSync(`/proc/${pid}/stat`, "utf8"))

/** utime + stime of each thread of a process, in ms: tid → ms (threads that are gone are left out). */
const threadCpuMs = (pid) => {
  const out = new Map()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), statCpuMs(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")))
    } catch {
      // exited meanwhile
    }
  }
  return out
}

/** The system calls a thread waiting on its own event loop sits in: epoll_wait, epoll_pwait, epoll_pwait2 (x86-64; aarch64). */
const EPOLL_SYSCALLS = process.arch === "arm64" ? new Set([22, 441]) : new Set([232, 281, 441])

/**
 * The server's worker threads: threads other than the main one that run an event loop of their
 * own, i.e. wait in epoll. Read while the server is idle, it finds the screen-mirror worker
 * (and Node's timer thread, which costs next to nothing); libuv's file-system pool and V8's
 * helper threads wait on futexes instead. Threads named `*mirror*` (comm), if any, win.
 * Every node thread is called "node" otherwise, hence the look at what each one waits in.
 */
const workerThreads = (pid, known = new Set()) => {
  const tids = readdirSync(`/proc/${pid}/task`).map(Number).filter((tid) => tid !== pid)
  const read = (tid, file) => {
    try {
      return readFileSync(`/proc/${pid}/task/${tid}/${file}`, "utf8").trim()
    } catch {
      return ""
    }
  }
  const named = tids.filter((tid) => /mirror/i.test(read(tid, "comm")))
  if (named.length > 0) return new Set(named)
  const found = new Set(known)
  for (const tid of tids) {
    if (read(tid, "wchan").includes("epoll") || EPOLL_SYSCALLS.has(Number(read(tid, "syscall").split(" ")[0]))) found.add(tid)
  }
  return found
}

/** CPU ms spent between two `threadCpuMs` readings, split into main thread, worker threads and the rest. */
const threadSplit = (pid, before, after, workers) => {
  const split = { main: 0, worker: 0, rest: 0 }
  for (const [tid, ms] of after) {
    const spent = ms - (before.get(tid) ?? 0)
    if (tid === pid) split.main += spent
    else if (workers.has(tid)) split.worker += spent
    else split.rest += spent
  }
  return split
}

/** Resident set size of a process, in bytes. */
const rssBytes = (pid) => {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return match === null ? NaN : Number(match[1]) * 1024
}

/** Samples the peak RSS of some processes every 50 ms until stopped. */
const rssPeaks = (pids) => {
  const peaks = pids.map((pid) => rssBytes(pid))
  const timer = setInterval(() => {
    pids.forEach((pid, i) => {
      try {
        peaks[i] = Math.max(peaks[i], rssBytes(pid))
      } catch {
        // gone
      }
    })
  }, 50)
  return {
    stop: () => {
      clearInterval(timer)
      return peaks
    }
  }
}

// ---------------------------------------------------------------------------
// Frames (docs/protocol/terminal.md): just what a viewer needs

const T_OUTPUT = 0
const T_INPUT = 1
const T_SNAPSHOT = 4
const T_ACK = 5
const T_EXIT = 6
const T_ERROR = 8
const T_RESUME = 9

const offsetFrame = (type, offset) => {
  const frame = Buffer.alloc(9)
  frame[0] = type
  frame.writeUInt32BE(Math.floor(offset / 2 ** 32), 1)
  frame.writeUInt32BE(offset % 2 ** 32, 5)
  return frame
}
const inputFrame = (bytes) => Buffer.concat([Buffer.of(T_INPUT), Buffer.from(bytes)])
const readOffset = (frame) => frame.readUInt32BE(1) * 2 ** 32 + frame.readUInt32BE(5)

/**
 * A viewer of a terminal session: RESUME 0 on open, then counts OUTPUT bytes,
 * ACKs every 256 KiB (and the tail of a burst every 20 ms), notes when the
 * SNAPSHOT and the EXIT arrived. `stall()` stops reading the socket and acking.
 */
const openViewer = ({ url, token, sessionId, onOutput, onSnapshot }) => {
  const state = {
    offset: 0,
    snapshotOffset: -1,
    snapshotBytes: 0,
    snapshots: 0,
    openAt: 0,
    snapshotAt: 0,
    firstOutputAt: 0,
    lastOutputAt: 0,
    exitAt: 0,
    error: null,
    closeCode: null
  }
  let acked = 0
  let acking = true
  const waiters = { snapshot: [], exit: [] }
  const settle = (what) => waiters[what].splice(0).forEach((w) => w())
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}/v1/sessions/${sessionId}/terminal`, {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: false
  })
  socket.binaryType = "nodebuffer"
  const ack = () => {
    if (acking && state.offset > acked && socket.readyState === WebSocket.OPEN) {
      acked = state.offset
      socket.send(offsetFrame(T_ACK, acked))
    }
  }
  const ackTimer = setInterval(ack, 20)
  socket.on("open", () => {
    state.openAt = now()
    socket.send(offsetFrame(T_RESUME, 0))
  })
  socket.on("message", (data) => {
    const t = now()
    switch (data[0]) {
      case T_OUTPUT: {
        const offset = readOffset(data)
        if (offset !== state.offset) state.error ??= `OUTPUT at ${offset}, expected ${state.offset}`
        state.offset = offset + data.length - 9
        if (state.firstOutputAt === 0) state.firstOutputAt = t
        state.lastOutputAt = t
        onOutput?.(data, t)
        if (state.offset - acked >= ACK_EVERY) ack()
        break
      }
      case T_SNAPSHOT:
        state.offset = readOffset(data)
        state.snapshotOffset = state.offset
        state.snapshotBytes = data.length - 13
        state.snapshotAt = t
        state.snapshots++
        onSnapshot?.(data)
        settle("snapshot")
        break
      case T_EXIT:
        state.exitAt = t
        settle("exit")
        break
      case T_ERROR:
        state.error ??= `ERROR ${data.readUInt16BE(1)}: ${data.subarray(3).toString("utf8")}`
        break
      default:
        break
    }
  })
  socket.on("error", (error) => {
    state.error ??= error.message
  })
  socket.on("close", (code) => {
    state.closeCode = code
    clearInterval(ackTimer)
    settle("snapshot")
    settle("exit")
  })
  const waitFor = (what, done, timeoutMs) =>
    new Promise((resolveWait, rejectWait) => {
      if (done()) return resolveWait()
      const timer = setTimeout(() => rejectWait(new Error(`viewer: no ${what} within ${timeoutMs} ms`)), timeoutMs)
      waiters[what].push(() => {
        clearTimeout(timer)
        if (done()) resolveWait()
        else rejectWait(new Error(`viewer: closed (${state.closeCode}) before ${what}${state.error ? `: ${state.error}` : ""}`))
      })
    })
  return {
    state,
    whenLive: (timeoutMs = 30_000) => waitFor("snapshot", () => state.snapshotAt > 0, timeoutMs),
    whenExited: (timeoutMs = CASE_TIMEOUT_MS) => waitFor("exit", () => state.exitAt > 0, timeoutMs),
    type: (bytes) => socket.send(inputFrame(bytes)),
    stall: () => {
      acking = false
      socket.pause()
    },
    close: () => {
      clearInterval(ackTimer)
      socket.terminate()
    }
  }
}

// ---------------------------------------------------------------------------
// Worker: a share of the viewers of one case

const runViewerWorker = () => {
  const viewers = []
  let stallIndex = -1
  process.on("message", async (job) => {
    if (job.type === "start") {
      for (let i = 0; i < job.count; i++) viewers.push(openViewer(job))
      try {
        await Promise.all(viewers.map((v) => v.whenLive()))
        process.send({ type: "live" })
      } catch (error) {
        process.send({ type: "failed", error: error.message })
      }
      const normal = viewers.filter((_, i) => i !== job.stallIndex)
      Promise.all(normal.map((v) => v.whenExited(job.timeoutMs))).then(
        () => process.send({ type: "done" }),
        (error) => process.send({ type: "failed", error: error.message })
      )
    } else if (job.type === "stall") {
      stallIndex = job.index
      viewers[job.index]?.stall()
    } else if (job.type === "go") {
      // The first viewer types the line the program waits for.
      const t0 = now()
      viewers[0].type("\r")
      process.send({ type: "went", t0 })
    } else if (job.type === "report") {
      const states = viewers.map((v, i) => ({ ...v.state, stalled: i === stallIndex }))
      for (const v of viewers) v.close()
      process.send({ type: "result", viewers: states }, () => process.exit(0))
    }
  })
  process.on("disconnect", () => process.exit(0))
  process.send({ type: "alive" })
}

// ---------------------------------------------------------------------------
// Worker: the raw `ws` server of the WebSocket baseline

const runWsServer = () => {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false })
  server.on("listening", () => process.send({ type: "port", port: server.address().port }))
  server.on("connection", (socket) => {
    socket.on("message", (message) => {
      const total = Number(message.toString())
      const chunk = Buffer.alloc(64 * KiB, 0x78)
      let sent = 0
      let inFlight = 0
      const pump = () => {
        // Keep at most 4 MiB handed to the socket and not yet written.
        while (sent < total && inFlight < 64) {
          const n = Math.min(chunk.length, total - sent)
          sent += n
          inFlight++
          socket.send(n === chunk.length ? chunk : chunk.subarray(0, n), { binary: true }, () => {
            inFlight--
            pump()
          })
        }
      }
      pump()
    })
  })
  process.on("disconnect", () => process.exit(0))
}

// ---------------------------------------------------------------------------
// Baselines

const pty = () => require("node-pty")

/** Spawns a program in a PTY in this process (as the runner does: raw bytes, 80 × 24). */
const spawnPty = (argv, cwd) =>
  pty().spawn(argv[0], argv.slice(1), { name: "xterm-256color", cols: 80, rows: 24, cwd, env: { ...process.env, TERM: "xterm-256color" }, encoding: null })

/** Raw node-pty: time from typing the line to the last output byte, and the bytes read. */
const rawPtyThroughput = (bytes, cwd) =>
  new Promise((resolveRun, rejectRun) => {
    const child = spawnPty(generator(bytes), cwd)
    let received = 0
    let last = 0
    let t0 = 0
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      rejectRun(new Error("raw node-pty run timed out"))
    }, CASE_TIMEOUT_MS)
    child.onData((data) => {
      received += data.length
      last = now()
    })
    child.onExit(() => {
      clearTimeout(timer)
      resolveRun({ bytes: received, ms: last - t0 })
    })
    setTimeout(() => {
      received = 0
      t0 = now()
      child.write("\r")
    }, 100)
  })

/** Raw `ws`: a server child sends `bytes` in 64 KiB messages; time from asking to the last byte here. */
const rawWsThroughput = async (bytes) => {
  const server = fork(self, ["--ws-server"], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
  try {
    const port = await new Promise((r, j) => {
      server.once("message", (m) => r(m.port))
      server.once("exit", () => j(new Error("ws server exited")))
    })
    const once = () =>
      new Promise((resolveRun, rejectRun) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false })
        let received = 0
        let t0 = 0
        const timer = setTimeout(() => rejectRun(new Error("raw ws run timed out")), CASE_TIMEOUT_MS)
        socket.on("open", () => {
          t0 = now()
          socket.send(String(bytes))
        })
        socket.on("message", (data) => {
          received += data.length
          if (received >= bytes) {
            const ms = now() - t0
            clearTimeout(timer)
            socket.terminate()
            resolveRun({ bytes: received, ms })
          }
        })
        socket.on("error", rejectRun)
      })
    await once() // warm-up
    return await once()
  } finally {
    server.kill("SIGKILL")
  }
}

const rawPtyEcho = async (count, cwd) => {
  const child = spawnPty(ECHO_PROGRAM, cwd)
  try {
    let text = ""
    let listener = null
    child.onData((data) => {
      const t = now()
      if (listener !== null) listener(data, t)
      else text += data.toString("latin1")
    })
    const deadline = Date.now() + 10_000
    while (!text.includes("READY")) {
      if (Date.now() > deadline) throw new Error("the echo program did not start")
      await sleep(10)
    }
    return await timedEchoes((byte) => child.write(Buffer.of(byte)), (l) => (listener = l), count)
  } finally {
    child.kill("SIGKILL")
  }
}

/** Echo latencies (ms): time from handing a byte over to receiving its echo. */
const timedEchoes = async (write, subscribe, count) => {
  let pending = null
  subscribe((data, t) => {
    if (pending !== null && data.includes(pending.byte)) {
      const p = pending
      pending = null
      p.resolve(t - p.t0)
    }
  })
  const latencies = []
  for (let i = 0; i < WARMUP_KEYS + count; i++) {
    const byte = 97 + (i % 26)
    const ms = await new Promise((resolveEcho, rejectEcho) => {
      const timer = setTimeout(() => rejectEcho(new Error(`no echo of keystroke ${i} within 5 s`)), 5000)
      pending = {
        byte,
        t0: now(),
        resolve: (value) => {
          clearTimeout(timer)
          resolveEcho(value)
        }
      }
      write(byte)
    })
    if (i >= WARMUP_KEYS) latencies.push(ms)
  }
  return latencies
}

/**
 * The server's screen mirror alone: headless xterm (80 × 24, 10 000 lines of
 * scrollback, as the server runs it) parsing the same bytes in 1 MiB writes, in
 * this process; then serializing screen and scrollback as a SNAPSHOT does.
 */
const xtermMirror = async (bytes) => {
  const { Terminal } = require("@xterm/headless")
  const { SerializeAddon } = require("@xterm/addon-serialize")
  const terminal = new Terminal({ cols: 80, rows: 24, scrollback: 10_000, allowProposedApi: true })
  const serializer = new SerializeAddon()
  terminal.loadAddon(serializer)
  const chunk = Buffer.alloc(1 << 20, 0x78)
  const cpu0 = process.cpuUsage()
  const t0 = now()
  let left = bytes
  await new Promise((done) => {
    const next = () => {
      if (left <= 0) return done()
      const n = Math.min(left, chunk.length)
      left -= n
      terminal.write(n === chunk.length ? chunk : chunk.subarray(0, n), next)
    }
    next()
  })
  const ms = now() - t0
  const cpu = process.cpuUsage(cpu0)
  const serializeMs = []
  let size = 0
  for (let i = 0; i < 5; i++) {
    const start = now()
    const data = serializer.serialize({ scrollback: terminal.buffer.active.length })
    serializeMs.push(now() - start)
    size = Buffer.byteLength(data, "utf8")
  }
  terminal.dispose()
  return { bytes, ms, cpuMs: (cpu.user + cpu.system) / 1000, serializeMs, size }
}

// ---------------------------------------------------------------------------
// Processes

/** The environment of a child: PATH, HOME and TMPDIR only, then `extra`. */
const childEnv = (home, extra = {}) => {
  const env = {}
  for (const key of ["PATH", "HOME", "TMPDIR", "NODE_OPTIONS"]) if (process.env[key] !== undefined) env[key] = process.env[key]
  return { ...env, TETHER_HOME: home, NO_COLOR: "1", ...extra }
}

/** TETHER_TERMINAL_* settings given to the bench (ring, scrollback, viewer queue, the host's buffer …), passed on to the server and the host. */
const terminalSettings = () => Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith("TETHER_TERMINAL_")))

const started = []

/** A long-running `tether` child in its own process group, with its output collected. */
const startTether = (args, env) => {
  const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${resolve(process.env.BENCH_PROFILE)}`] : []
  const flags = (process.env.BENCH_NODE_FLAGS ?? "").split(/\s+/).filter((flag) => flag !== "")
  const child = spawn(process.execPath, [...profile, ...flags, bundle, ...args], { env, cwd: env.TETHER_HOME, stdio: ["ignore", "pipe", "pipe"], detached: true })
  let output = ""
  const log = process.env.BENCH_LOG ? createWriteStream(join(resolve(process.env.BENCH_LOG), `${args[0]}-${child.pid}.log`)) : null
  const collect = (d) => {
    output = (output + d).slice(-100_000)
    log?.write(d)
  }
  child.stdout.setEncoding("utf8").on("data", collect)
  child.stderr.setEncoding("utf8").on("data", collect)
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
  const handle = { pid: child.pid, output: () => output, stop, kill: () => signal("SIGKILL") }
  started.push(handle)
  return handle
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

/**
 * A server (`env`: extra settings, e.g. storage) with this bench's admin token
 * and a host named `bench` online: the context every case runs against.
 */
const startStack = async ({ serverHome, hostHome, port = 0, env = {} }) => {
  const password = randomBytes(18).toString("base64url")
  const server = startTether(
    ["server", "run", "--host", "127.0.0.1", "--port", String(port)],
    childEnv(serverHome, { ...terminalSettings(), TETHER_PASSWORD: password, ...env })
  )
  const url = await waitFor("the server to listen", () => /listening on (http:\/\/\S+)/.exec(server.output())?.[1], 30_000)
  const token = connectForToken({ bundle, url, home: serverHome, env: childEnv(serverHome), password })
  const api = apiClient(url, token)
  const host = startTether(["host", "--name", "bench"], childEnv(hostHome, { ...terminalSettings(), TETHER_SERVER: url, TETHER_TOKEN: token }))
  await waitFor("the host to come online", async () => (await api("GET", "/v1/hosts")).body?.hosts?.some((h) => h.name === "bench" && h.online), 30_000)
  return {
    url,
    token,
    api,
    server,
    host,
    /** The server's worker threads (the screen mirror's), found while it is idle; topped up before every run. */
    serverWorkers: workerThreads(server.pid),
    createSession: async (args, title) => {
      const created = await api("POST", "/v1/sessions", { harness: "terminal", hostId: "bench", cwd: hostHome, title, args })
      if (created.status !== 201) throw new Error(`creating a session: HTTP ${created.status} ${JSON.stringify(created.body)}`)
      return created.body.id
    },
    stopSession: async (id) => {
      const session = await api("GET", `/v1/sessions/${id}`)
      if (session.body?.status !== "exited" && session.body?.status !== "failed") await api("POST", `/v1/sessions/${id}/events`, { type: "stop" })
    }
  }
}

// ---------------------------------------------------------------------------
// Relay cases

/**
 * One fan-out run: a generator session printing `bytes`, `viewers` viewers in
 * worker processes, all live before the first one types the go line. With
 * `stall`, the last viewer stops reading (and acking) just before the go.
 */
const relayRun = async (ctx, { bytes, viewers, stall = false }) => {
  const session = await ctx.createSession(generator(bytes), `bench ${viewers}x${bytes}`)
  await ctx.beforeViewing?.(session)
  const workerCount = Math.ceil(viewers / VIEWERS_PER_WORKER)
  const workers = []
  const results = []
  const counts = Array.from({ length: workerCount }, (_, w) => Math.floor(viewers / workerCount) + (w < viewers % workerCount ? 1 : 0))
  const stallWorker = workerCount - 1
  const stallIndex = stall ? counts[stallWorker] - 1 : -1
  let t0 = 0
  /** Counters at the go and 0.5 s after the end. */
  let before = null
  let after = null
  let peaks = null
  let serverPeak = NaN
  let failure = null
  try {
    await new Promise((resolveCase, rejectCase) => {
      const timer = setTimeout(() => rejectCase(new Error(`case not finished within ${CASE_TIMEOUT_MS / 1000} s`)), CASE_TIMEOUT_MS)
      let live = 0
      let done = 0
      counts.forEach((count, w) => {
        const worker = fork(self, ["--viewers"], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
        workers.push(worker)
        worker.on("message", (message) => {
          if (message.type === "alive") {
            worker.send({
              type: "start",
              url: ctx.url,
              token: ctx.token,
              sessionId: session,
              count,
              stallIndex: w === stallWorker ? stallIndex : -1,
              timeoutMs: CASE_TIMEOUT_MS
            })
          } else if (message.type === "live" && ++live === workerCount) {
            if (stall) workers[stallWorker].send({ type: "stall", index: stallIndex })
            ctx.serverWorkers = workerThreads(ctx.server.pid, ctx.serverWorkers)
            before = {
              serverCpu: cpuMs(ctx.server.pid),
              serverThreads: threadCpuMs(ctx.server.pid),
              runnerCpu: cpuMs(ctx.host.pid),
              serverRss: rssBytes(ctx.server.pid)
            }
            peaks = rssPeaks([ctx.server.pid])
            workers[0].send({ type: "go" })
          } else if (message.type === "went") {
            t0 = message.t0
          } else if (message.type === "done" && ++done === workerCount) {
            clearTimeout(timer)
            resolveCase()
          } else if (message.type === "failed") {
            clearTimeout(timer)
            rejectCase(new Error(message.error))
          }
        })
        worker.on("exit", (code) => {
          if (code !== 0 && results.length < workerCount) rejectCase(new Error(`a viewer worker exited with ${code}`))
        })
      })
    })
  } catch (error) {
    // A failed case is a row saying so; the other cases still run.
    failure = error.message
  } finally {
    // Let the server finish its mirror and transcript work for this output, then read the counters.
    await sleep(500)
    after = {
      serverCpu: cpuMs(ctx.server.pid),
      serverThreads: threadCpuMs(ctx.server.pid),
      runnerCpu: cpuMs(ctx.host.pid),
      serverRss: rssBytes(ctx.server.pid)
    }
    serverPeak = peaks?.stop()[0] ?? NaN
    const collected = workers.map((worker) =>
      worker.connected
        ? new Promise((r) => {
            worker.once("message", (m) => r(m.type === "result" ? m.viewers : []))
            worker.once("exit", () => r([]))
            worker.send({ type: "report" })
          })
        : Promise.resolve([])
    )
    const timeout = sleep(10_000).then(() => workers.map(() => []))
    const reports = await Promise.race([Promise.all(collected), timeout])
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill("SIGKILL")
    reports.forEach((states) => results.push(states))
    await ctx.stopSession(session)
  }
  if (failure !== null || before === null) {
    const nothing = {
      allMs: NaN,
      medianMs: NaN,
      serverCpuMs: NaN,
      serverThreadsMs: { main: NaN, worker: NaN, rest: NaN },
      runnerCpuMs: NaN,
      serverRssGrowth: NaN,
      serverRssAfter: NaN,
      serverRssEnd: NaN
    }
    return { viewers, bytes, session, complete: 0, counted: viewers - (stall ? 1 : 0), errors: [failure ?? "no go"], resyncs: 0, ...nothing }
  }
  // Every viewer but the stalled one.
  const all = results.flat().filter((v) => !v.stalled)
  const completions = all.map((v) => v.lastOutputAt - t0)
  const received = all.map((v) => v.offset - Math.max(0, v.snapshotOffset))
  return {
    viewers,
    bytes,
    session,
    complete: received.filter((r) => r >= bytes).length,
    counted: all.length,
    errors: all.map((v) => v.error).filter((e) => e !== null),
    allMs: Math.max(...completions),
    medianMs: median(completions),
    serverCpuMs: after.serverCpu - before.serverCpu,
    serverThreadsMs: threadSplit(ctx.server.pid, before.serverThreads, after.serverThreads, ctx.serverWorkers),
    runnerCpuMs: after.runnerCpu - before.runnerCpu,
    serverRssGrowth: serverPeak - before.serverRss,
    serverRssAfter: after.serverRss - before.serverRss,
    serverRssEnd: after.serverRss,
    resyncs: all.reduce((sum, v) => sum + Math.max(0, v.snapshots - 1), 0)
  }
}

/** Joins an ended session `times` times: RESUME (sent on open) → SNAPSHOT, in ms. */
const lateJoins = async (ctx, sessionId, times) => {
  const samples = []
  let snapshotBytes = 0
  for (let i = 0; i < times; i++) {
    const viewer = openViewer({ url: ctx.url, token: ctx.token, sessionId })
    try {
      await viewer.whenLive()
      samples.push(viewer.state.snapshotAt - viewer.state.openAt)
      snapshotBytes = viewer.state.snapshotBytes
    } finally {
      viewer.close()
    }
  }
  return { samples, snapshotBytes }
}

const relayEcho = async (ctx, count) => {
  const session = await ctx.createSession(ECHO_PROGRAM, "bench echo")
  await ctx.beforeViewing?.(session)
  let text = ""
  let listener = null
  const viewer = openViewer({
    url: ctx.url,
    token: ctx.token,
    sessionId: session,
    onOutput: (frame, t) => {
      const data = frame.subarray(9)
      if (listener !== null) listener(data, t)
      else text += data.toString("latin1")
    },
    // READY may come before the viewer joins: then it is on the snapshot's screen.
    onSnapshot: (frame) => (text += frame.subarray(13).toString("latin1"))
  })
  try {
    await viewer.whenLive()
    await waitFor("the echo program", () => text.includes("READY"), 20_000)
    return await timedEchoes((byte) => viewer.type([byte]), (l) => (listener = l), count)
  } finally {
    viewer.close()
    await ctx.stopSession(session)
  }
}

/** A line on stderr saying what runs now. */
const progress = (text) => process.stderr.write(`${text}\n`)

/** A port that was free a moment ago on 127.0.0.1. */
const freePort = () =>
  new Promise((resolvePort, reject) => {
    const probe = createNetServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address()
      probe.close(() => resolvePort(port))
    })
  })

/**
 * Two server instances on one fresh PostgreSQL database, each with
 * TETHER_INSTANCE_URL, and a host on A. Echo and 1 viewer × BENCH_MB on A
 * directly and through B (forwarded to A), alternating; B's CPU is the
 * forwarding's cost. Stops both and drops the database.
 */
const forwardCase = async () => {
  const { default: pg } = await import("pg")
  const adminUrl = process.env.BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test"
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  const database = `tether_bench_${randomBytes(6).toString("hex")}`
  await admin.query(`CREATE DATABASE ${database}`)
  const homes = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), "tether-bench-forward-")))
  const handles = []
  const databaseUrl = new URL(adminUrl)
  databaseUrl.pathname = `/${database}`
  const db = new pg.Client({ connectionString: databaseUrl.toString() })
  try {
    await db.connect()
    const [portA, portB] = [await freePort(), await freePort()]
    const instance = (port) => ({ TETHER_DATABASE_URL: databaseUrl.toString(), TETHER_INSTANCE_URL: `http://127.0.0.1:${port}` })
    const a = await startStack({ serverHome: homes[0], hostHome: homes[2], port: portA, env: instance(portA) })
    handles.push(a.host, a.server)
    const b = startTether(["server", "run", "--host", "127.0.0.1", "--port", String(portB)], childEnv(homes[1], { ...terminalSettings(), ...instance(portB) }))
    handles.unshift(b)
    await waitFor("instance B to listen", () => /listening on/.test(b.output()), 30_000)
    // Sessions are made through A's API; B's viewers are forwarded to A, where the host's link is,
    // once A has claimed the terminal (a viewer reaching B before that is sent there within a
    // second by a close this bench's viewers do not reconnect after).
    const viaB = {
      ...a,
      url: `http://127.0.0.1:${portB}`,
      server: b,
      serverWorkers: workerThreads(b.pid),
      beforeViewing: (session) =>
        waitFor("A to hold the terminal", async () => (await db.query("SELECT 1 FROM terminal_homes WHERE session_id = $1", [session])).rowCount > 0, 20_000)
    }
    const figures = { direct: { echo: [], runs: [] }, forwarded: { echo: [], runs: [] } }
    for (let i = 0; i < REPEAT; i++) {
      progress(`forward: echo and ${BENCH_MB} MB, on A and through B (${i + 1}/${REPEAT}) …`)
      figures.direct.echo.push(...(await relayEcho(a, KEYSTROKES)))
      figures.forwarded.echo.push(...(await relayEcho(viaB, KEYSTROKES)))
      figures.direct.runs.push(await relayRun(a, { bytes: TOTAL_BYTES, viewers: 1 }))
      figures.forwarded.runs.push(await relayRun(viaB, { bytes: TOTAL_BYTES, viewers: 1 }))
    }
    return figures
  } finally {
    await db.end().catch(() => {})
    for (const handle of handles) await handle.stop()
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {})
    await admin.end()
    for (const home of homes) rmSync(home, { recursive: true, force: true })
  }
}

/** N idle `sleep 600` terminals, each viewed once: the server's (and runner's) RSS growth per session. */
const idleSessions = async (ctx, n) => {
  const view = async (session) => {
    const viewer = openViewer({ url: ctx.url, token: ctx.token, sessionId: session })
    try {
      await viewer.whenLive()
    } finally {
      viewer.close()
    }
  }
  // Warm the code paths first (one session created, viewed and stopped), then settle.
  const warm = await ctx.createSession(["sleep", "600"], "bench idle warm-up")
  await view(warm)
  await ctx.stopSession(warm)
  await sleep(2000)
  const idleCpu = async () => {
    const start = cpuMs(ctx.server.pid)
    await sleep(IDLE_CPU_MS)
    return ((cpuMs(ctx.server.pid) - start) * 1000) / IDLE_CPU_MS
  }
  const cpuWithout = await idleCpu()
  const before = { server: rssBytes(ctx.server.pid), runner: rssBytes(ctx.host.pid) }
  const sessions = []
  for (let i = 0; i < n; i++) sessions.push(await ctx.createSession(["sleep", "600"], `bench idle ${i}`))
  for (const session of sessions) await view(session)
  await sleep(3000)
  const after = { server: rssBytes(ctx.server.pid), runner: rssBytes(ctx.host.pid) }
  const cpuWith = await idleCpu()
  const loaded = await ctx.api("GET", `/v1/sessions?status=running&limit=200`)
  const running = Array.isArray(loaded.body?.sessions) ? loaded.body.sessions.filter((s) => sessions.includes(s.id)).length : NaN
  for (const session of sessions) await ctx.stopSession(session)
  return { n, running, serverPerSession: (after.server - before.server) / n, runnerPerSession: (after.runner - before.runner) / n, before, after, cpuWithout, cpuWith }
}

// ---------------------------------------------------------------------------
// Report

const median = (values) => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]
}
const percentile = (values, p) => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1))]
}
const fmt = (n, digits = 1) =>
  n === undefined || n === null || !Number.isFinite(n) ? "-" : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
const mbps = (bytes, ms) => bytes / MB / (ms / 1000)
/** "met" / "NOT MET", or "-" when a figure was not measured (BENCH_CASES) . */
const verdict = (ok, ...figures) => (figures.some((f) => !Number.isFinite(f)) ? "-" : ok ? "met" : "NOT MET")

const printRows = (header, rows) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? "").length)))
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c ?? "").padEnd(widths[i]) : String(c ?? "").padStart(widths[i]))).join("  ")
  console.log(line(header))
  console.log(widths.map((w) => "-".repeat(w)).join("  "))
  rows.forEach((r) => console.log(line(r)))
}

// ---------------------------------------------------------------------------
// Main

/** The run whose `key` is the median of `runs` (an actual run, so its other figures belong together). */
const medianRun = (runs, key) => {
  const sorted = [...runs].sort((x, y) => key(x) - key(y))
  return sorted[Math.floor((sorted.length - 1) / 2)]
}
const spread = (values, digits = 1) => (values.length < 2 ? "" : ` (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`)

const main = async () => {
  const bundleFlag = process.argv.indexOf("--bundle")
  if (bundleFlag !== -1) bundle = resolve(process.argv[bundleFlag + 1] ?? "")
  if (!existsSync(bundle)) {
    console.error(`${bundle} is missing: run \`npm run build\` first (or \`npm run bench:relay\`).`)
    process.exit(1)
  }
  const serverHome = mkdtempSync(join(tmpdir(), "tether-bench-relay-server-"))
  const hostHome = mkdtempSync(join(tmpdir(), "tether-bench-relay-host-"))
  const removeHomes = () => {
    rmSync(serverHome, { recursive: true, force: true })
    rmSync(hostHome, { recursive: true, force: true })
  }
  const interrupted = () => {
    for (const p of started) p.kill()
    removeHomes()
    process.exit(130)
  }
  process.once("SIGINT", interrupted)
  process.once("SIGTERM", interrupted)
  const runTimer = setTimeout(() => {
    console.error(`bench: the whole run exceeded ${RUN_TIMEOUT_MS / 60_000} minutes; stopping`)
    interrupted()
  }, RUN_TIMEOUT_MS)
  const startedAt = Date.now()

  const figures = {}
  try {
    console.log(
      `node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg().map((n) => n.toFixed(2)).join(" ")} at start; ` +
        `BENCH_MB=${BENCH_MB} (${TOTAL_BYTES.toLocaleString("en-US")} bytes), ${REPEAT} runs of the repeated cases; ${bundle}` +
        (Object.keys(terminalSettings()).length > 0 ? `; server ${Object.entries(terminalSettings()).map(([k, v]) => `${k}=${v}`).join(" ")}` : "")
    )

    progress(`baseline: raw node-pty, ${REPEAT} × ${BENCH_MB} MB …`)
    await rawPtyThroughput(Math.min(TOTAL_BYTES, 10 * MB), hostHome) // warm-up
    figures.rawPty = []
    for (let i = 0; i < REPEAT; i++) figures.rawPty.push(await rawPtyThroughput(TOTAL_BYTES, hostHome))
    progress(`baseline: raw ws, ${BENCH_MB} MB …`)
    figures.rawWs = await rawWsThroughput(TOTAL_BYTES)
    progress(`baseline: node-pty echo, ${KEYSTROKES} keystrokes …`)
    figures.rawEcho = await rawPtyEcho(KEYSTROKES, hostHome)
    progress(`component: headless xterm mirror, ${BENCH_MB} MB …`)
    figures.xterm = await xtermMirror(TOTAL_BYTES)

    progress("starting a server and a host …")
    const ctx = await startStack({ serverHome, hostHome })
    await sleep(1000)

    if (CASES.has("idle")) {
      progress(`relay: ${IDLE_SESSIONS} idle terminal sessions …`)
      figures.idle = await idleSessions(ctx, IDLE_SESSIONS)
    }

    // Each one-viewer run right after a raw node-pty run of its own: the throughput ratio compares runs
    // seconds apart, so the drift of a shared machine (the raw figure alone spreads by half) hits both.
    figures.ones = []
    figures.rawPaired = []
    for (let i = 0; i < (CASES.has("one") ? REPEAT : 0); i++) {
      progress(`relay: ${BENCH_MB} MB to 1 viewer, after a raw node-pty run (${i + 1}/${REPEAT}) …`)
      figures.rawPaired.push(await rawPtyThroughput(TOTAL_BYTES, hostHome))
      figures.ones.push(await relayRun(ctx, { bytes: TOTAL_BYTES, viewers: 1 }))
    }
    if (CASES.has("one")) {
      progress("relay: late joins after it …")
      figures.join = await lateJoins(ctx, figures.ones[figures.ones.length - 1].session, 5)
    }

    // The stall comparison: normal and stalled runs alternate, so drift on a shared machine hits both.
    const ten = { viewers: STALL_VIEWERS, bytes: FANOUT_BYTES[STALL_VIEWERS] }
    figures.tens = []
    figures.stalls = []
    for (let i = 0; i < (CASES.has("ten") ? REPEAT : 0); i++) {
      progress(`relay: ${fmt(ten.bytes / MB)} MB to ${STALL_VIEWERS} viewers (${i + 1}/${REPEAT}) …`)
      figures.tens.push(await relayRun(ctx, ten))
      progress(`relay: ${fmt(ten.bytes / MB)} MB to ${STALL_VIEWERS} viewers, one stalled (${i + 1}/${REPEAT}) …`)
      figures.stalls.push(await relayRun(ctx, { ...ten, stall: true }))
    }
    const hundred = { viewers: 100, bytes: FANOUT_BYTES[100] }
    if (CASES.has("hundred")) {
      progress(`relay: ${fmt(hundred.bytes / MB)} MB to 100 viewers …`)
      figures.hundred = await relayRun(ctx, hundred)
    }
    if (CASES.has("echo")) {
      progress(`relay: echo, ${KEYSTROKES} keystrokes …`)
      figures.echo = await relayEcho(ctx, KEYSTROKES)
    }
    if (CASES.has("forward")) figures.forward = await forwardCase()

    // ---- report
    const rawRates = figures.rawPty.map((r) => mbps(r.bytes, r.ms))
    const rawPtyMBs = median(rawRates)
    const oneRates = figures.ones.map((r) => mbps(r.bytes, r.allMs))
    const one = medianRun(figures.ones, (r) => r.allMs) ?? { bytes: TOTAL_BYTES, allMs: NaN }
    const oneMBs = mbps(one.bytes, one.allMs)
    const pairedRates = figures.rawPaired.map((r) => mbps(r.bytes, r.ms))
    const pairRatios = figures.ones.map((r, i) => mbps(r.bytes, r.allMs) / pairedRates[i])
    const ratio = median(pairRatios)
    const cpuPerMBs = figures.ones.map((r) => r.serverCpuMs / (r.bytes / MB))
    const cpuPerMB = median(cpuPerMBs)
    const runnerCpuPerMB = median(figures.ones.map((r) => r.runnerCpuMs / (r.bytes / MB)))
    const threadPerMB = (key) => median(figures.ones.map((r) => r.serverThreadsMs[key] / (r.bytes / MB)))
    const echoP50 = percentile(figures.echo ?? [], 0.5)
    const echoP99 = percentile(figures.echo ?? [], 0.99)
    const normalTen = medianRun(figures.tens, (r) => r.allMs) ?? { allMs: NaN }
    const stalledTen = medianRun(figures.stalls, (r) => r.allMs) ?? { allMs: NaN }
    const slowdown = stalledTen.allMs / normalTen.allMs
    const stallRss = Math.max(...figures.stalls.map((r) => r.serverRssGrowth)) / MB
    const normalRss = Math.max(...figures.tens.map((r) => r.serverRssGrowth)) / MB
    figures.join ??= { samples: [], snapshotBytes: NaN }
    figures.idle ??= { n: 0, running: NaN, serverPerSession: NaN, runnerPerSession: NaN, before: {}, after: {}, cpuWithout: NaN, cpuWith: NaN }
    const joinFirst = figures.join.samples[0]
    const joinMedian = median(figures.join.samples)
    const idleMB = figures.idle.serverPerSession / MB
    const xterm = figures.xterm

    console.log()
    console.log("Baselines (no Tether)")
    printRows(
      ["measure", "figure"],
      [
        [`raw node-pty read, ${fmt(TOTAL_BYTES / MB)} MB, median of ${REPEAT}`, `${fmt(rawPtyMBs)} MB/s${spread(rawRates)}`],
        [`raw ws loopback, 64 KiB messages, ${fmt(figures.rawWs.bytes / MB)} MB`, `${fmt(mbps(figures.rawWs.bytes, figures.rawWs.ms))} MB/s`],
        [`node-pty echo (stty raw; cat), ${KEYSTROKES} keys`, `p50 ${fmt(percentile(figures.rawEcho, 0.5), 3)} ms, p99 ${fmt(percentile(figures.rawEcho, 0.99), 3)} ms`],
        [`headless xterm parse (the server's mirror), ${fmt(TOTAL_BYTES / MB)} MB`, `${fmt(mbps(xterm.bytes, xterm.ms))} MB/s, ${fmt(xterm.cpuMs / (xterm.bytes / MB), 1)} CPU ms/MB`],
        [`xterm serialize, screen + 10 000 lines (${fmt(xterm.size / 1024, 0)} KiB)`, `median ${fmt(median(xterm.serializeMs), 1)} ms${spread(xterm.serializeMs)}`]
      ]
    )
    console.log()
    console.log("Through Tether: PTY → tether host → tether server → viewers (worker processes), every byte to every viewer")
    const rows = [
      ...figures.ones.map((r) => ["1", r]),
      ...figures.tens.flatMap((r, i) => [["10", r], ["10, 1 stalled", figures.stalls[i]]]),
      ...(figures.hundred === undefined ? [] : [["100", figures.hundred]])
    ]
    printRows(
      [
        "viewers",
        "MB each",
        "complete",
        "all done s",
        "median s",
        "MB/s/viewer",
        "MB/s total",
        "srv CPU ms/MB",
        "main",
        "mirror",
        "rest",
        "runner ms/MB",
        "resyncs",
        "srv RSS peak +MB",
        "after +MB",
        "srv RSS MB"
      ],
      rows.map(([label, r]) => [
        label,
        fmt(r.bytes / MB),
        `${r.complete}/${r.counted}${r.errors.length > 0 ? ` (${r.errors.length} errors)` : ""}`,
        fmt(r.allMs / 1000, 2),
        fmt(r.medianMs / 1000, 2),
        fmt(mbps(r.bytes, r.allMs)),
        fmt(mbps(r.bytes * r.counted, r.allMs)),
        fmt(r.serverCpuMs / (r.bytes / MB), 1),
        fmt(r.serverThreadsMs.main / (r.bytes / MB), 1),
        fmt(r.serverThreadsMs.worker / (r.bytes / MB), 1),
        fmt(r.serverThreadsMs.rest / (r.bytes / MB), 1),
        fmt(r.runnerCpuMs / (r.bytes / MB), 1),
        String(r.resyncs),
        fmt(r.serverRssGrowth / MB),
        fmt(r.serverRssAfter / MB),
        fmt(r.serverRssEnd / MB, 0)
      ])
    )
    for (const [label, r] of rows) for (const e of r.errors.slice(0, 3)) console.log(`  viewer error (${label}): ${e}`)
    console.log("  all done: go line typed → last byte at the slowest viewer (the stalled one excluded); MB/s total = viewers × MB / that time.")
    console.log("  CPU: utime+stime from the go until 0.5 s after the last viewer finished, per MB of PTY output (not per copy).")
    console.log("       srv CPU is the whole server process (the target's measure); main, mirror and rest split it by thread (/proc/<pid>/task):")
    console.log("       main = the thread that relays, mirror = worker threads with an event loop of their own (the screen mirror's),")
    console.log("       rest = libuv's file-system pool (transcript writes), V8's GC and compiler helpers.")
    console.log("  complete: viewers that got every byte; resyncs: SNAPSHOTs after the first (a viewer too far behind is resynced, skipping output).")
    console.log("  RSS: peak VmRSS (sampled every 50 ms) and VmRSS 0.5 s after the end, each minus VmRSS at the go; srv RSS MB: VmRSS then.")
    if (FANOUT_BYTES[100] < TOTAL_BYTES) console.log(`  100 viewers get ${fmt(FANOUT_BYTES[100] / MB)} MB each (100 copies share this machine's cores with the rest).`)
    console.log()
    console.log("Targets")
    if (pairRatios.length > 0) console.log("  throughput: each 1-viewer run / the raw node-pty run just before it (relay/raw MB/s per pair).")
    printRows(
      ["target", "measured", "goal", "verdict"],
      [
        [
          "relay throughput / raw node-pty",
          `median of ${pairRatios.length} pairs ${fmt(ratio * 100, 0)} % (${pairRatios.map((r, i) => `${fmt(oneRates[i])}/${fmt(pairedRates[i])}`).join(", ")} MB/s)`,
          "≥ 85 %",
          verdict(ratio >= TARGETS.throughputRatio, ratio)
        ],
        [
          "server CPU per MB relayed",
          `${fmt(cpuPerMB, 1)}${spread(cpuPerMBs)} ms (main ${fmt(threadPerMB("main"), 1)}, mirror ${fmt(threadPerMB("worker"), 1)}, ` +
          `rest ${fmt(threadPerMB("rest"), 1)}; runner ${fmt(runnerCpuPerMB, 1)} ms)`,
          "≤ 7 ms",
          verdict(cpuPerMB <= TARGETS.cpuMsPerMB, cpuPerMB)
        ],
        ["keystroke echo p50 via relay", `${fmt(echoP50, 3)} ms (direct ${fmt(percentile(figures.rawEcho, 0.5), 3)} ms)`, "≤ 0.5 ms", verdict(echoP50 <= TARGETS.echoP50, echoP50)],
        ["keystroke echo p99 via relay", `${fmt(echoP99, 3)} ms (direct ${fmt(percentile(figures.rawEcho, 0.99), 3)} ms)`, "≤ 3 ms", verdict(echoP99 <= TARGETS.echoP99, echoP99)],
        [
          `1 of ${STALL_VIEWERS} viewers stalled: the others' time`,
          `${fmt(stalledTen.allMs / 1000, 2)} s vs ${fmt(normalTen.allMs / 1000, 2)} s = ${fmt(slowdown, 2)}×`,
          "≤ 1.5×",
          verdict(slowdown <= TARGETS.stallSlowdown && figures.stalls.every((r) => r.complete === r.counted), slowdown)
        ],
        [`1 of ${STALL_VIEWERS} stalled: server RSS peak growth`, `${fmt(stallRss)} MB (same run, none stalled: ${fmt(normalRss)} MB)`, "≤ 16 MB", verdict(stallRss <= TARGETS.stallRssMB, stallRss)],
        [
          "  … of which due to the stall",
          `${fmt(stallRss - normalRss)} MB (stalled − none stalled)`,
          "≤ 16 MB",
          verdict(stallRss - normalRss <= TARGETS.stallRssMB, stallRss, normalRss)
        ],
        [
          `late join after ${fmt(one.bytes / MB)} MB: RESUME → SNAPSHOT`,
          `median of ${figures.join.samples.length} ${fmt(joinMedian, 1)} ms${spread(figures.join.samples)}, first ${fmt(joinFirst, 1)} ms (${fmt(figures.join.snapshotBytes / 1024, 0)} KiB)`,
          "≤ 50 ms",
          verdict(joinMedian <= TARGETS.snapshotMs, joinMedian)
        ],
        [
          `server RSS per idle terminal session (${figures.idle.n})`,
          `${fmt(idleMB, 2)} MB (runner ${fmt(figures.idle.runnerPerSession / MB, 2)} MB)`,
          "≤ 2 MB",
          verdict(idleMB <= TARGETS.idleRssMB, idleMB)
        ]
      ]
    )
    console.log()
    console.log("Medians over the repeated runs; (min–max) where there were several. MB = 10^6 bytes.")
    console.log(
      `Idle sessions: ${figures.idle.running}/${figures.idle.n} running at the reading; server VmRSS ${fmt(figures.idle.before.server / MB)} → ${fmt(figures.idle.after.server / MB)} MB, ` +
        `runner ${fmt(figures.idle.before.runner / MB)} → ${fmt(figures.idle.after.runner / MB)} MB; ` +
        `server CPU while idle ${fmt(figures.idle.cpuWithout)} ms/s without them, ${fmt(figures.idle.cpuWith)} ms/s with them (${IDLE_CPU_MS / 1000} s each).`
    )
    if (figures.forward !== undefined) {
      const { direct, forwarded } = figures.forward
      const rate = (runs) => median(runs.map((r) => mbps(r.bytes, r.allMs)))
      const cpu = (runs) => median(runs.map((r) => r.serverCpuMs / (r.bytes / MB)))
      const rows = [
        ["echo p50 (ms)", percentile(direct.echo, 0.5), percentile(forwarded.echo, 0.5), 3],
        ["echo p99 (ms)", percentile(direct.echo, 0.99), percentile(forwarded.echo, 0.99), 3],
        [`1 viewer × ${fmt(BENCH_MB)} MB (MB/s)`, rate(direct.runs), rate(forwarded.runs), 1],
        ["CPU per MB of the server the viewer reached (ms)", cpu(direct.runs), cpu(forwarded.runs), 1]
      ]
      console.log("")
      console.log("Through another server instance (BENCH_CASES=forward: A and B on one PostgreSQL database, the host on A)")
      printRows(
        ["measure", "viewer on A", "viewer on B, forwarded to A", "B / A"],
        rows.map(([name, a, b, digits]) => [name, fmt(a, digits), fmt(b, digits), `${fmt(b / a, 2)}×`])
      )
      console.log(`  medians of ${REPEAT} alternating runs; ${KEYSTROKES} keystrokes each. B's CPU is what forwarding costs it (A relays as for any viewer).`)
    }
    console.log(`Whole run ${fmt((Date.now() - startedAt) / 1000, 0)} s; load average ${loadavg().map((n) => n.toFixed(2)).join(" ")} at the end.`)
  } finally {
    clearTimeout(runTimer)
    for (const p of [...started].reverse()) await p.stop()
    removeHomes()
  }
}

if (process.argv.includes("--viewers")) runViewerWorker()
else if (process.argv.includes("--ws-server")) runWsServer()
else
  main().catch((error) => {
    console.error(`bench failed: ${error.stack ?? error}`)
    process.exitCode = 1
  })
