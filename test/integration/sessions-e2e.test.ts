/**
 * Sessions end to end with real processes: a `tether server run`, real
 * `tether host` runners (each with its own TETHER_HOME, dialling the server
 * directly or through a TCP proxy the test can cut), the shell harness
 * running real commands, and clients on the HTTP API, on SSE and through the
 * CLI bundle. Everything listens on 127.0.0.1.
 *
 *  1. Fan-out: two SSE clients (one joining mid-run from after=0) and
 *     `tether sessions tail --json` see the same full event sequence.
 *  2. Link loss: the runner's link is cut mid-run; the session waits for its
 *     host, input is queued, the runner reconnects and resends what it
 *     buffered; every line arrives exactly once.
 *  3. Grace period: a host that stays away fails its session with host_lost;
 *     (3b) when it returns, the failed session takes no more events and its
 *     process is stopped.
 *  4. Server restart: history survives and SSE resumes from Last-Event-ID;
 *     (4b) mid-run, the runner and attached stream clients reconnect and
 *     nothing is lost or repeated; (4c) SIGTERM is not held up by SSE clients.
 *  5. Offline input: messages for an offline host are queued, then delivered
 *     in order when it comes back.
 *  6. Fork: a forked session starts with the original's first events.
 *  7. Host binding: without hostId, zero or two online hosts answer 409.
 *
 * Every scenario runs on SQLite; all but 3b and 4c (not about storage) also
 * run on PostgreSQL, a fresh database per server. PostgreSQL is skipped
 * loudly when unavailable (unless CI is set, where its absence fails).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import type { Session } from "../../src/domain/session.js"
import { type ServerBackend, serverBackends } from "../support/server-backends.js"
import { childEnv, cliPath, freeTempHome, type RunningServer, runCli, startServer, type TempHome } from "../support/processes.js"
import { type EventRecordJson, isFinishing, type SessionSubscription, subscribeSession } from "../support/sse-client.js"
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js"
import { cliOk, describeRun, isAlive, readConfig, within } from "./helpers.js"

// ---------------------------------------------------------------------------
// Backends

const backends = await serverBackends("sessions end-to-end suite")

// ---------------------------------------------------------------------------
// Processes

const PASSWORD = "correct-horse-battery-staple"
const CONTEXT = "127-0-0-1"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 50 ms until it resolves true, or fails after `timeoutMs`. */
const eventually = async (what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

// Children still alive when the test process exits are killed. (A vitest worker torn down by
// a signal runs no "exit" handlers: every test also cleans up after itself.)
const liveChildren = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of liveChildren) signalGroup(child, "SIGKILL")
})

const signalGroup = (child: ChildProcess, signal: NodeJS.Signals): void => {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}

interface CliProcess {
  readonly pid: number
  stdout(): string
  /** stdout and stderr interleaved. */
  output(): string
  readonly exited: Promise<number | null>
  /** Signals its process group (it was spawned detached); a no-op once it exited. */
  signal(signal: NodeJS.Signals): void
}

/**
 * `node dist/tether.mjs ...args` with a clean environment (`TETHER_HOME=home`
 * plus `extraEnv`), in its own process group. Unlike `runCli` the caller keeps
 * a handle: `tether sessions tail` does not stop on SIGTERM while its stream
 * is quiet, so cleanup must be able to SIGKILL it.
 */
const spawnCli = (args: ReadonlyArray<string>, home: string, extraEnv: Record<string, string> = {}): CliProcess => {
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: childEnv(home, extraEnv),
    cwd: home,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  liveChildren.add(child)
  let stdout = ""
  let output = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
    output += chunk
  })
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      liveChildren.delete(child)
      resolve(code)
    })
  )
  return { pid: child.pid ?? -1, stdout: () => stdout, output: () => output, exited, signal: (sig) => signalGroup(child, sig) }
}

interface HostProcess {
  readonly name: string
  readonly pid: number
  output(): string
  /** SIGTERM, SIGKILL after 10 s; resolves with the exit code. Idempotent. */
  stop(): Promise<number | null>
  readonly exited: Promise<number | null>
}

/**
 * `tether host --name NAME` in a TETHER_HOME of its own, dialling `serverUrl`
 * with `token` (both through the environment). Resolves once it printed its
 * connecting line; the caller waits for the server to see it.
 */
const spawnHost = async (name: string, serverUrl: string, token: string, home: TempHome): Promise<HostProcess> => {
  const host = spawnCli(["host", "--name", name], home.dir, { TETHER_SERVER: serverUrl, TETHER_TOKEN: token })
  let exitedEarly = false
  void host.exited.then(() => (exitedEarly = true))
  const connecting = `Tether host "${name}" connecting to ${serverUrl}`
  const deadline = Date.now() + 10_000
  while (!host.output().includes(connecting)) {
    if (exitedEarly || Date.now() > deadline) {
      host.signal("SIGKILL")
      throw new Error(`tether host ${name} did not start\n--- output ---\n${host.output()}`)
    }
    await sleep(25)
  }
  let stopping: Promise<number | null> | undefined
  return {
    name,
    pid: host.pid,
    output: host.output,
    exited: host.exited,
    stop: () =>
      (stopping ??= (async () => {
        host.signal("SIGTERM")
        const killer = setTimeout(() => host.signal("SIGKILL"), 10_000)
        const code = await host.exited
        clearTimeout(killer)
        return code
      })())
  }
}

// ---------------------------------------------------------------------------
// A server, a connected CLI home, and the hosts and proxies around it

type SessionJson = typeof Session.Encoded

interface ApiResponse<A> {
  readonly status: number
  readonly body: A
}

interface HostChoiceJson {
  readonly _tag: string
  readonly error: string
  readonly hosts: ReadonlyArray<{ readonly id: string; readonly name: string; readonly online: boolean }>
}

interface HostInfoJson {
  readonly id: string
  readonly name: string
  readonly online: boolean
}

interface Cluster {
  /** The current server process (a new one after `restartServer`). */
  readonly server: RunningServer
  /** TETHER_HOME of the server and of the CLI (connected, context current). */
  readonly home: TempHome
  /** A directory sessions run in. */
  readonly workDir: string
  /** The admin access token `tether connect` saved. */
  readonly token: string
  api<A = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<A>>
  createSession(request: Record<string, unknown>): Promise<SessionJson>
  getSession(id: string): Promise<SessionJson>
  subscribe(id: string, options?: Parameters<typeof subscribeSession>[2]): SessionSubscription
  /** Starts `tether host --name NAME` (through `serverUrl`, default the server) and waits until the server lists it online. */
  startHost(name: string, serverUrl?: string): Promise<HostProcess>
  /** Waits until the server lists the host with this online state. */
  hostOnline(name: string, online: boolean): Promise<void>
  /** `tether sessions tail ID --json` until it exits (killed after 25 s, or by `stop`); the records it printed. */
  tail(sessionId: string): Promise<ReadonlyArray<EventRecordJson>>
  proxy(): Promise<TcpProxy>
  /** SIGTERM the server and start it again on the same home, port and environment. */
  restartServer(): Promise<void>
  /** Stops hosts, proxies, subscriptions and the server; removes the temp dirs. Idempotent. */
  stop(): Promise<void>
}

const startCluster = async (backend: ServerBackend, extraEnv: Record<string, string> = {}): Promise<Cluster> => {
  const home = freeTempHome()
  const env = { TETHER_PASSWORD: PASSWORD, ...(await backend.database()), ...extraEnv }
  let server = await startServer({ home: home.dir, env })
  const hosts: Array<HostProcess> = []
  const hostHomes: Array<TempHome> = []
  const proxies: Array<TcpProxy> = []
  const subscriptions: Array<SessionSubscription> = []
  const tails: Array<CliProcess> = []

  let token: string
  try {
    await cliOk(["connect", `127.0.0.1:${server.port}`, "--password-stdin"], { home: home.dir, input: `${PASSWORD}\n` })
    const saved = readConfig(home.dir).contexts[CONTEXT]?.accessToken
    if (saved === undefined) throw new Error(`tether connect saved no token for ${CONTEXT}`)
    token = saved
  } catch (error) {
    await server.stop()
    await home.cleanup()
    throw error
  }

  const api = async <A>(method: string, path: string, body?: unknown): Promise<ApiResponse<A>> => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, body: (text === "" ? undefined : JSON.parse(text)) as A }
  }

  const hostOnline = (name: string, online: boolean) =>
    eventually(`host ${name} ${online ? "online" : "offline"}`, async () => {
      const { body } = await api<{ hosts: ReadonlyArray<HostInfoJson> }>("GET", "/v1/hosts")
      return body.hosts.some((h) => h.name === name && h.online === online)
    })

  let stopping: Promise<void> | undefined
  const cluster: Cluster = {
    get server() {
      return server
    },
    home,
    workDir: home.dir,
    token,
    api,
    createSession: async (request) => {
      const response = await api<SessionJson>("POST", "/v1/sessions", { harness: "shell", cwd: home.dir, ...request })
      assert.strictEqual(response.status, 201, JSON.stringify(response.body))
      return response.body
    },
    getSession: async (id) => {
      const response = await api<SessionJson>("GET", `/v1/sessions/${id}`)
      assert.strictEqual(response.status, 200, JSON.stringify(response.body))
      return response.body
    },
    subscribe: (id, options) => {
      const subscription = subscribeSession(server.url, id, { token, ...options })
      subscriptions.push(subscription)
      return subscription
    },
    startHost: async (name, serverUrl) => {
      const hostHome = freeTempHome()
      hostHomes.push(hostHome)
      const host = await spawnHost(name, serverUrl ?? server.url, token, hostHome)
      hosts.push(host)
      try {
        await hostOnline(name, true)
      } catch (error) {
        throw new Error(`${String(error)}\n--- host output ---\n${host.output()}`)
      }
      return host
    },
    hostOnline,
    tail: (sessionId) => {
      const args = ["sessions", "tail", sessionId, "--json"]
      const tail = spawnCli(args, home.dir)
      tails.push(tail)
      const killer = setTimeout(() => tail.signal("SIGKILL"), 25_000)
      const records = tail.exited.then((code) => {
        clearTimeout(killer)
        assert.strictEqual(code, 0, `tether ${args.join(" ")} → exit ${code}\n${tail.output()}`)
        return tail.stdout().trim().split("\n").map((line) => JSON.parse(line) as EventRecordJson)
      })
      // A test that fails before awaiting it must not also report an unhandled rejection.
      records.catch(() => {})
      return records
    },
    proxy: async () => {
      const proxy = await startTcpProxy(server.port)
      proxies.push(proxy)
      return proxy
    },
    restartServer: async () => {
      const stopping = server
      process.kill(stopping.pid, "SIGTERM")
      const code = await within("the server stopping on SIGTERM", 5_000, stopping.exited).catch(async (error: unknown) => {
        process.kill(stopping.pid, "SIGKILL")
        await stopping.exited
        throw new Error(`${String(error)}\n--- server output ---\n${stopping.output()}`)
      })
      assert.strictEqual(code, 0, `the server did not stop gracefully\n${stopping.output()}`)
      server = await startServer({ home: home.dir, port: stopping.port, env })
    },
    stop: () =>
      (stopping ??= (async () => {
        for (const subscription of subscriptions) subscription.close()
        for (const tail of tails) tail.signal("SIGKILL")
        await Promise.all(hosts.map((h) => h.stop()))
        await Promise.all(proxies.map((p) => p.close()))
        await server.stop()
        await Promise.all([home, ...hostHomes].map((h) => h.cleanup()))
      })())
  }
  return cluster
}

// ---------------------------------------------------------------------------
// Reading event sequences

type MessageEventJson = Extract<EventRecordJson["event"], { readonly type: "message" }>
type StatusEventJson = Extract<EventRecordJson["event"], { readonly type: "status" }>

const messageOf = (record: EventRecordJson): MessageEventJson | undefined =>
  record.event.type === "message" ? record.event : undefined

const statusOf = (record: EventRecordJson): StatusEventJson | undefined =>
  record.event.type === "status" ? record.event : undefined

/** The texts of the assistant messages (stdout lines), in order. */
const outputLines = (records: ReadonlyArray<EventRecordJson>): Array<string> =>
  records.flatMap((r) => {
    const message = messageOf(r)
    return message !== undefined && message.role === "assistant" ? [message.text] : []
  })

const statuses = (records: ReadonlyArray<EventRecordJson>): Array<string> =>
  records.flatMap((r) => {
    const status = statusOf(r)
    return status === undefined ? [] : [`${status.status}${status.reason === null ? "" : `(${status.reason})`}`]
  })

const isStatus = (status: string, reason?: string) => (record: EventRecordJson): boolean => {
  const event = statusOf(record)
  return event !== undefined && event.status === status && (reason === undefined || event.reason === reason)
}

const isLine = (text: string) => (record: EventRecordJson): boolean => messageOf(record)?.text === text

/** 1, 2, … n as strings. */
const oneTo = (n: number): Array<string> => Array.from({ length: n }, (_, i) => String(i + 1))

const assertSeqs = (records: ReadonlyArray<EventRecordJson>, from: number, what: string): void =>
  assert.deepStrictEqual(records.map((r) => r.seq), Array.from({ length: records.length }, (_, i) => from + i), what)

const summary = (records: ReadonlyArray<EventRecordJson>): string =>
  records.map((r) => `${r.seq}:${r.event.type}:${JSON.stringify(statusOf(r)?.status ?? messageOf(r)?.text ?? "")}`).join(" ")

/**
 * A node script that prints `<n> <Date.now()>` every 20 ms until the file
 * `argv[1]` exists, then `total <n>` and exits 0.
 */
const TICKER = [
  "const fs = require('node:fs')",
  "let n = 0",
  "const timer = setInterval(() => {",
  "  if (fs.existsSync(process.argv[1])) { clearInterval(timer); console.log('total ' + n); return }",
  "  n += 1; console.log(n + ' ' + Date.now())",
  "}, 20)"
].join("\n")

/** Assistant lines of the ticker: every tick exactly once, in order, and the total last. */
const assertTicks = (records: ReadonlyArray<EventRecordJson>): Array<{ n: number; at: number }> => {
  const lines = outputLines(records)
  const last = lines[lines.length - 1] ?? ""
  const total = /^total (\d+)$/.exec(last)
  assert.isNotNull(total, `the last line is not the ticker's total: ${JSON.stringify(last)}`)
  const ticks = lines.slice(0, -1).map((line) => {
    const [n, at] = line.split(" ").map(Number)
    return { n: n ?? NaN, at: at ?? NaN }
  })
  assert.deepStrictEqual(ticks.map((t) => t.n), oneTo(Number(total![1])).map(Number), "ticks lost, repeated or reordered")
  return ticks
}

// ---------------------------------------------------------------------------

const COUNT_TO_100 = "for i in $(seq 1 100); do echo $i; sleep 0.02; done"

for (const backend of backends) {
  describe.skipIf(backend.unavailable !== undefined)(`sessions end to end (${backend.name})`, () => {
    // One server with one directly connected host, shared by the scenarios that need nothing special.
    let shared: Promise<{ cluster: Cluster; main: HostProcess }> | undefined
    const sharedCluster = () =>
      (shared ??= startCluster(backend).then(async (cluster) => {
        try {
          return { cluster, main: await cluster.startHost("main") }
        } catch (error) {
          await cluster.stop()
          throw error
        }
      }))

    afterAll(async () => {
      try {
        const started = await shared?.catch(() => undefined)
        if (started !== undefined) {
          const { cluster, main } = started
          await cluster.stop()
          assert.strictEqual(await main.exited, 0, `tether host did not stop gracefully\n${main.output()}`)
        }
      } finally {
        await backend.teardown()
      }
    }, 30_000)

    it("1. two SSE clients and `sessions tail --json` see the same full sequence", async () => {
      const { cluster } = await sharedCluster()
      const session = await cluster.createSession({ hostId: "main", args: ["sh", "-c", COUNT_TO_100], title: "count" })
      assert.strictEqual(session.hostName, "main")

      const early = cluster.subscribe(session.id)
      const tail = cluster.tail(session.id)
      await early.waitFor("line 50 on the first stream", isLine("50"))
      const running = await cluster.getSession(session.id)
      assert.strictEqual(running.status, "running", "the second client must join mid-run")
      const late = cluster.subscribe(session.id, { after: 0 })

      const [a, b] = await within("both streams finishing", 20_000, Promise.all([early.done, late.done]))
      const c = await tail

      assertSeqs(a, 1, "the first stream's seqs")
      assert.deepStrictEqual(b, a, "the stream that joined mid-run saw a different sequence")
      assert.deepStrictEqual(c, a, "`tether sessions tail --json` saw a different sequence")
      assert.deepStrictEqual(outputLines(a), oneTo(100))
      assert.deepStrictEqual(statuses(a), ["idle", "running", "exited(exit_code)"])
      const last = a[a.length - 1]!
      assert.isTrue(isFinishing(last))
      assert.strictEqual(statusOf(last)?.exitCode, 0)

      const finished = await cluster.getSession(session.id)
      assert.strictEqual(finished.status, "exited")
      assert.strictEqual(finished.exitCode, 0)
      assert.strictEqual(finished.lastSeq, last.seq)
    }, 30_000)

    it("`tether run` follows the session and exits with its exit code", async () => {
      const { cluster } = await sharedCluster()
      const args = ["run", "--host", "main", "--cwd", cluster.workDir, "--arg", "sh", "--arg", "-c", "--arg", "echo out; echo diag >&2; exit 7"]
      const result = await runCli(args, { home: cluster.home.dir, timeoutMs: 15_000 })
      assert.strictEqual(result.code, 7, describeRun(args, result))
      assert.include(result.stdout, "out", describeRun(args, result))
      assert.include(result.stdout, "diag", describeRun(args, result))
    }, 20_000)

    it("2. a cut runner link: waiting_host, reconnect, nothing lost or duplicated", async () => {
      const { cluster } = await sharedCluster()
      const proxy = await cluster.proxy()
      const linked = await cluster.startHost("linked", proxy.url)
      const stopFile = join(cluster.workDir, "stop-link-loss")
      const session = await cluster.createSession({ hostId: "linked", args: [process.execPath, "-e", TICKER, stopFile] })
      const stream = cluster.subscribe(session.id)

      await stream.waitFor("tick 25", (r) => messageOf(r)?.text.startsWith("25 ") === true)
      assert.isAtLeast(proxy.cut(), 1, "the runner was not connected through the proxy")
      proxy.pause()
      const cutAt = Date.now()
      const waiting = await stream.waitFor("waiting_host after the cut", isStatus("waiting_host"), 10_000)
      assert.strictEqual(statusOf(waiting)?.reason, "host_disconnected")
      const snapshot = await cluster.getSession(session.id)
      assert.strictEqual(snapshot.status, "waiting_host")
      assert.isFalse(snapshot.hostOnline)

      // Input meanwhile is queued for the host.
      const sent = await cluster.api<{ delivery: string }>("POST", `/v1/sessions/${session.id}/events`, { type: "message", text: "still there?" })
      assert.strictEqual(sent.status, 202, JSON.stringify(sent.body))
      assert.strictEqual(sent.body.delivery, "queued")
      assert.deepStrictEqual((await cluster.getSession(session.id)).queuedInputs.map((q) => q.text), ["still there?"])

      // The command keeps printing while the link is down; the runner buffers it.
      await sleep(1_000)
      proxy.resume()
      const resumedAt = Date.now()
      const back = await stream.waitFor("running again after the reconnect", isStatus("running", "host_reconnected"), 10_000)
      assert.isAbove(back.seq, waiting.seq)
      await eventually("the queued message delivered", async () => (await cluster.getSession(session.id)).queuedInputs.length === 0)
      await stream.waitFor("a tick after the reconnect", (r) => r.seq > back.seq && messageOf(r)?.role === "assistant")
      // Let it run a little longer on the new link, then end it.
      await sleep(300)
      writeFileSync(stopFile, "")

      const records = await within("the session finishing", 15_000, stream.done)
      assertSeqs(records, 1, "seqs")
      const ticks = assertTicks(records)
      assert.deepStrictEqual(statuses(records), [
        "idle",
        "running",
        "waiting_host(host_disconnected)",
        "running(host_reconnected)",
        "exited(exit_code)"
      ])
      // Ticks printed while the link was down reached the server only after it came back: buffered and resent.
      const buffered = records.filter((r) => {
        const at = Number(messageOf(r)?.text.split(" ")[1])
        return r.seq > back.seq && at > cutAt && at < resumedAt
      })
      assert.isAtLeast(buffered.length, 10, `expected the ticks of the outage after the reconnect: ${summary(records)}`)
      assert.isAtLeast(proxy.forwarded, 2, "the runner did not reconnect through the proxy")
      assert.isAbove(ticks.length, 40)

      const finished = await cluster.getSession(session.id)
      assert.strictEqual(finished.status, "exited")
      assert.strictEqual(finished.exitCode, 0)
      assert.isTrue(finished.hostOnline)
      assert.strictEqual(finished.lastSeq, records.length)

      assert.strictEqual(await linked.stop(), 0, linked.output())
    }, 30_000)

    it("3. a host that stays away past TETHER_HOST_GRACE fails its session with host_lost", async () => {
      const cluster = await startCluster(backend, { TETHER_HOST_GRACE: "2 seconds" })
      try {
        const proxy = await cluster.proxy()
        const host = await cluster.startHost("flaky", proxy.url)
        // `exec` keeps the pid: the first line is the pid of the process that then sleeps.
        const session = await cluster.createSession({ args: ["sh", "-c", "echo $$; exec sleep 30"] })
        const stream = cluster.subscribe(session.id)
        const first = await stream.waitFor("the first line", (r) => messageOf(r)?.role === "assistant")
        const sleeper = Number(messageOf(first)?.text)
        assert.isTrue(isAlive(sleeper), `the session's process ${sleeper} is not running`)

        proxy.cut()
        proxy.pause()
        const cutAt = Date.now()
        const waiting = await stream.waitFor("waiting_host", isStatus("waiting_host", "host_disconnected"))
        const failed = await stream.waitFor("failed host_lost", isStatus("failed", "host_lost"), 10_000)
        const elapsed = Date.now() - cutAt
        assert.isAtLeast(elapsed, 1_800, "failed before the grace period ran out")
        assert.isAtMost(elapsed, 5_000, "failed long after the grace period")
        assert.strictEqual(failed.seq, waiting.seq + 1)

        const records = await within("the stream ending with the failure", 2_000, stream.done)
        assert.deepStrictEqual(statuses(records), ["idle", "running", "waiting_host(host_disconnected)", "failed(host_lost)"])
        const snapshot = await cluster.getSession(session.id)
        assert.strictEqual(snapshot.status, "failed")
        assert.strictEqual(snapshot.statusReason, "host_lost")
        const refused = await cluster.api<{ _tag: string }>("POST", `/v1/sessions/${session.id}/events`, { type: "message", text: "hello?" })
        assert.strictEqual(refused.status, 409)
        assert.strictEqual(refused.body._tag, "SessionFinished")

        // The runner outlived the server's patience; its process does not outlive the runner.
        assert.strictEqual(await host.stop(), 0, host.output())
        assert.isFalse(isAlive(sleeper), `the session's process ${sleeper} survived its runner`)
      } finally {
        await cluster.stop()
      }
    }, 30_000)

    // Found by these tests: a runner returning after host_lost used to keep running the session,
    // and the server stored its output after `failed`. Not about storage: SQLite only.
    it.skipIf(backend.name !== "sqlite")("3b. a host returning after host_lost adds nothing to the failed session and stops its process", async () => {
      const cluster = await startCluster(backend, { TETHER_HOST_GRACE: "1 second" })
      try {
        const proxy = await cluster.proxy()
        await cluster.startHost("flaky", proxy.url)
        const script = "echo $$; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done"
        const session = await cluster.createSession({ args: ["sh", "-c", script] })
        const stream = cluster.subscribe(session.id, { until: () => false })
        const first = await stream.waitFor("the first line", (r) => messageOf(r)?.role === "assistant")
        const shell = Number(messageOf(first)?.text)
        await stream.waitFor("tick 3", isLine("tick 3"))

        proxy.cut()
        proxy.pause()
        const failed = await stream.waitFor("failed host_lost", isStatus("failed", "host_lost"), 10_000)
        proxy.resume()
        await cluster.hostOnline("flaky", true)
        await sleep(1_500)

        const after = stream.records.filter((r) => r.seq > failed.seq)
        assert.deepStrictEqual(after.map((r) => r.seq), [], `events stored after the session failed: ${summary(after.slice(0, 5))} …`)
        assert.strictEqual((await cluster.getSession(session.id)).lastSeq, failed.seq)
        await eventually(`the failed session's process ${shell} stopped`, async () => !isAlive(shell), 5_000)
      } finally {
        await cluster.stop()
      }
    }, 30_000)

    it("4. after a server restart the history is intact and SSE resumes from Last-Event-ID", async () => {
      const cluster = await startCluster(backend)
      try {
        await cluster.startHost("main")
        const session = await cluster.createSession({ args: ["sh", "-c", "for i in 1 2 3 4 5 6; do echo $i; done"] })
        const original = await within("the session finishing", 10_000, cluster.subscribe(session.id).done)
        assert.deepStrictEqual(outputLines(original), oneTo(6))
        const before = await cluster.getSession(session.id)
        const lastSeq = original.length
        assert.strictEqual(before.lastSeq, lastSeq)

        await cluster.restartServer()

        const after = await cluster.getSession(session.id)
        assert.strictEqual(after.lastSeq, lastSeq)
        assert.strictEqual(after.status, "exited")
        assert.strictEqual(after.exitCode, 0)
        assert.deepStrictEqual(
          { ...after, hostOnline: before.hostOnline, updatedAt: before.updatedAt },
          before,
          "the snapshot changed across the restart"
        )

        for (const k of [0, 3, lastSeq - 1]) {
          const expected = original.slice(k)
          const byHeader = cluster.subscribe(session.id, { lastEventId: k, until: (r) => r.seq === lastSeq })
          assert.deepStrictEqual(await within(`resume after ${k}`, 5_000, byHeader.done), expected, `Last-Event-ID: ${k}`)
          const byQuery = cluster.subscribe(session.id, { after: k, until: (r) => r.seq === lastSeq })
          assert.deepStrictEqual(await within(`resume after ${k}`, 5_000, byQuery.done), expected, `?after=${k}`)
        }
        // Nothing follows the last event: a stream resuming from it stays quiet.
        const quiet = cluster.subscribe(session.id, { lastEventId: lastSeq, until: () => true })
        await sleep(500)
        quiet.close()
        assert.deepStrictEqual(await quiet.done, [])
        assert.strictEqual(quiet.connections, 1)
      } finally {
        await cluster.stop()
      }
    }, 45_000)

    it("4b. a server restart mid-run: runner and stream clients reconnect, every line arrives once", async () => {
      const cluster = await startCluster(backend)
      try {
        await cluster.startHost("main")
        const stopFile = join(cluster.workDir, "stop-restart")
        const session = await cluster.createSession({ args: [process.execPath, "-e", TICKER, stopFile] })
        // Both stay attached across the restart and resume with Last-Event-ID.
        const follower = cluster.subscribe(session.id, { reconnect: true })
        const tail = cluster.tail(session.id)
        await follower.waitFor("tick 20", (r) => messageOf(r)?.text.startsWith("20 ") === true)

        await cluster.restartServer()
        const back = await follower.waitFor("running after the runner reconnected", isStatus("running", "host_reconnected"), 15_000)
        await follower.waitFor("a tick after the reconnect", (r) => r.seq > back.seq && messageOf(r)?.role === "assistant")
        writeFileSync(stopFile, "")

        const records = await within("the session finishing", 15_000, follower.done)
        assert.isAtLeast(follower.connections, 2, "the stream client never had to reconnect")
        assertSeqs(records, 1, "seqs")
        assertTicks(records)
        assert.deepStrictEqual(statuses(records), [
          "idle",
          "running",
          "waiting_host(host_disconnected)",
          "running(host_reconnected)",
          "exited(exit_code)"
        ])
        assert.deepStrictEqual(await tail, records, "`tether sessions tail --json` across the restart")
      } finally {
        await cluster.stop()
      }
    }, 30_000)

    // Found by these tests: SIGTERM used to leave the server running for as long as any SSE
    // client stayed attached (killed only by SIGKILL), or connected while it was stopping.
    // Not about storage: SQLite only.
    it.skipIf(backend.name !== "sqlite")("4c. the server stops promptly on SIGTERM while SSE clients stay attached or keep reconnecting", async () => {
      const cluster = await startCluster(backend)
      const late: Array<SessionSubscription> = []
      try {
        await cluster.startHost("main")
        const session = await cluster.createSession({ args: ["true"] })
        const attached = cluster.subscribe(session.id, { until: () => false })
        await attached.waitFor("the exit", isFinishing)
        const server = cluster.server
        let exited = false
        void server.exited.then(() => (exited = true))
        process.kill(server.pid, "SIGTERM")
        // Clients that reconnect at once (as `tether sessions tail` does when a stream ends) keep
        // arriving while it stops; none of them may keep it alive.
        const reconnecting = (async () => {
          while (!exited && late.length < 250) {
            late.push(subscribeSession(server.url, session.id, { token: cluster.token, until: () => false }))
            await sleep(20)
          }
        })()
        const code = await within("the server exiting after SIGTERM", 5_000, server.exited).catch((error: unknown) => {
          exited = true
          attached.close() // the server exits once the clients let go
          for (const subscription of late) subscription.close()
          throw new Error(`${String(error)}; it printed:\n${server.output()}`)
        })
        await reconnecting
        assert.strictEqual(code, 0, server.output())
      } finally {
        for (const subscription of late) subscription.close()
        await cluster.stop()
      }
    }, 30_000)

    it("5. input for an offline host is queued and delivered in order when it returns", async () => {
      const { cluster } = await sharedCluster()
      // Register the host "box", then take it offline.
      const first = await cluster.startHost("box")
      assert.strictEqual(await first.stop(), 0, first.output())
      await cluster.hostOnline("box", false)

      const session = await cluster.createSession({ hostId: "box", args: ["sh", "-c", "read a; read b; echo \"$a+$b\""] })
      assert.strictEqual(session.status, "waiting_host")
      assert.strictEqual(session.statusReason, "host_offline")
      assert.isFalse(session.hostOnline)
      for (const text of ["x", "y"]) {
        const sent = await cluster.api<{ delivery: string }>("POST", `/v1/sessions/${session.id}/events`, { type: "message", text })
        assert.strictEqual(sent.status, 202, JSON.stringify(sent.body))
        assert.strictEqual(sent.body.delivery, "queued")
      }
      const queued = await cluster.getSession(session.id)
      assert.deepStrictEqual(queued.queuedInputs.map((q) => [q.kind, q.text]), [["start", null], ["message", "x"], ["message", "y"]])

      const stream = cluster.subscribe(session.id)
      const again = await cluster.startHost("box")
      const records = await within("the session finishing", 15_000, stream.done)
      assertSeqs(records, 1, "seqs")
      assert.deepStrictEqual(outputLines(records), ["x+y"], summary(records))
      assert.deepStrictEqual(
        records.flatMap((r) => (messageOf(r)?.role === "user" ? [messageOf(r)?.text] : [])),
        ["x", "y"],
        "the user messages the server recorded"
      )
      assert.deepStrictEqual(statusOf(records[records.length - 1]!), { type: "status", status: "exited", reason: "exit_code", exitCode: 0 })
      const finished = await cluster.getSession(session.id)
      assert.deepStrictEqual(finished.queuedInputs, [])
      assert.strictEqual(await again.stop(), 0, again.output())
    }, 30_000)

    it("6. a fork starts with the original's events up to upToSeq", async () => {
      const { cluster } = await sharedCluster()
      const source = await cluster.createSession({ hostId: "main", args: ["sh", "-c", "echo a; echo b; echo c"] })
      const original = await within("the session finishing", 10_000, cluster.subscribe(source.id).done)
      assert.isAbove(original.length, 3)

      const forked = await cluster.api<SessionJson>("POST", `/v1/sessions/${source.id}/fork`, { upToSeq: 3 })
      assert.strictEqual(forked.status, 201, JSON.stringify(forked.body))
      assert.notStrictEqual(forked.body.id, source.id)
      assert.deepStrictEqual(forked.body.forkedFrom, { sessionId: source.id, upToSeq: 3 })

      const copied = await within("the fork's first events", 5_000, cluster.subscribe(forked.body.id, { until: (r) => r.seq === 3 }).done)
      const pick = (r: EventRecordJson) => ({ seq: r.seq, event: r.event })
      assert.deepStrictEqual(copied.map(pick), original.slice(0, 3).map(pick))
      const shown = await cluster.getSession(forked.body.id)
      assert.deepStrictEqual(shown.forkedFrom, { sessionId: source.id, upToSeq: 3 })

      // The fork then runs on the same host (the shell harness starts the command afresh).
      const rest = await within("the fork finishing", 10_000, cluster.subscribe(forked.body.id, { after: 3 }).done)
      assert.isTrue(isFinishing(rest[rest.length - 1]!), summary(rest))
      const bad = await cluster.api<{ _tag: string }>("POST", `/v1/sessions/${source.id}/fork`, { upToSeq: original.length + 1 })
      assert.strictEqual(bad.status, 400, JSON.stringify(bad.body))
    }, 30_000)

    it("7. without hostId, zero or several online hosts answer 409 HostChoiceRequired", async () => {
      const cluster = await startCluster(backend)
      try {
        const request = { harness: "shell", cwd: cluster.workDir, args: ["true"] }
        const none = await cluster.api<HostChoiceJson>("POST", "/v1/sessions", request)
        assert.strictEqual(none.status, 409, JSON.stringify(none.body))
        assert.strictEqual(none.body._tag, "HostChoiceRequired")
        assert.deepStrictEqual(none.body.hosts, [])

        const alpha = await cluster.startHost("alpha")
        const beta = await cluster.startHost("beta")
        const two = await cluster.api<HostChoiceJson>("POST", "/v1/sessions", request)
        assert.strictEqual(two.status, 409, JSON.stringify(two.body))
        assert.strictEqual(two.body._tag, "HostChoiceRequired")
        assert.deepStrictEqual(two.body.hosts.map((h) => [h.name, h.online]).sort(), [["alpha", true], ["beta", true]])

        // Named, either works; with one online it is chosen.
        const named = await cluster.api<SessionJson>("POST", "/v1/sessions", { ...request, hostId: "beta" })
        assert.strictEqual(named.status, 201, JSON.stringify(named.body))
        assert.strictEqual(named.body.hostName, "beta")
        assert.strictEqual(await beta.stop(), 0, beta.output())
        await cluster.hostOnline("beta", false)
        const only = await cluster.api<SessionJson>("POST", "/v1/sessions", request)
        assert.strictEqual(only.status, 201, JSON.stringify(only.body))
        assert.strictEqual(only.body.hostName, "alpha")

        // Registered but all offline: still 409, listing them as offline.
        assert.strictEqual(await alpha.stop(), 0, alpha.output())
        await cluster.hostOnline("alpha", false)
        const offline = await cluster.api<HostChoiceJson>("POST", "/v1/sessions", request)
        assert.strictEqual(offline.status, 409, JSON.stringify(offline.body))
        assert.deepStrictEqual(offline.body.hosts.map((h) => [h.name, h.online]).sort(), [["alpha", false], ["beta", false]])
        const unknown = await cluster.api<{ _tag: string }>("POST", "/v1/sessions", { ...request, hostId: "nope" })
        assert.strictEqual(unknown.body._tag, "HostNotFound", JSON.stringify(unknown.body))
      } finally {
        await cluster.stop()
      }
    }, 30_000)
  })
}
