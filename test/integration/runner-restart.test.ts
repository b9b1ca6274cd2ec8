/**
 * Issue 3's last gap, with real processes: a `tether server run` (SQLite), a
 * real `tether host` process, and a `shell` session printing numbered lines
 * steadily. The host is SIGKILLed mid-stream and started again on the same
 * TETHER_HOME and name: the session's SSE stream ends with every line exactly
 * once, in order, and the command's exit code; input sent after the restart
 * reaches the process (through the supervisor's FIFO); once the finishing
 * status is stored, the session's durable directory is gone.
 *
 * Second scenario: the host stays down past the server's grace period, so the
 * session fails with `host_lost`; when the host comes back it learns that
 * (an empty probe batch answered `UnknownSession`) and takes down the command
 * the previous runner left running, and its directory.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { childEnv, cliPath, freeTempHome, type RunningServer, startServer, type TempHome } from "../support/processes.js"
import { type EventRecordJson, subscribeSession } from "../support/sse-client.js"
import { isRunning as isAlive } from "../runner/support/procs.js"
import { cliOk, readConfig, within } from "./helpers.js"

const PASSWORD = "correct-horse-battery-staple"
const CONTEXT = "127-0-0-1"
const HOST = "restartable"
const LINES = 300

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const eventually = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(25)
  }
}

/** Prints 1..LINES, one every 10 ms; then echoes one line of input and exits 7. */
const COUNTER = [
  "let n = 0",
  `const timer = setInterval(() => { n += 1; console.log(String(n)); if (n === ${LINES}) { clearInterval(timer); wait() } }, 10)`,
  "function wait() { let input = ''; process.stdin.on('data', (d) => { input += d; const nl = input.indexOf('\\n');",
  "  if (nl !== -1) { console.log('got ' + input.slice(0, nl)); process.exit(7) } }) }"
].join("\n")

const processes = new Set<ChildProcess>()
const groups = new Set<number>()
afterAll(() => {
  for (const child of processes) if (child.pid !== undefined) tryKill(-child.pid, "SIGKILL")
  for (const pgid of groups) tryKill(-pgid, "SIGKILL")
})

const tryKill = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}


interface Host {
  readonly pid: number
  output(): string
  readonly exited: Promise<number | null>
}

/** `tether host --name HOST` on `home` (detached: its own process group), once it printed its connecting line. */
const startHost = async (home: string, serverUrl: string, token: string): Promise<Host> => {
  const child = spawn(process.execPath, [cliPath, "host", "--name", HOST], {
    env: childEnv(home, { TETHER_SERVER: serverUrl, TETHER_TOKEN: token }),
    cwd: home,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  processes.add(child)
  let output = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      processes.delete(child)
      resolve(code)
    })
  )
  await eventually("the host's connecting line", () => {
    if (child.exitCode !== null) throw new Error(`tether host exited early:\n${output}`)
    return output.includes(`Tether host "${HOST}" connecting to`)
  })
  return { pid: child.pid ?? -1, output: () => output, exited }
}

const statusOf = (r: EventRecordJson) => (r.event.type === "status" ? r.event : undefined)
const messageOf = (r: EventRecordJson) => (r.event.type === "message" ? r.event : undefined)

interface World {
  readonly url: string
  readonly token: string
  readonly hostHome: string
  api<A>(method: string, path: string, body?: unknown): Promise<{ status: number; body: A }>
  hostOnline(online: boolean): Promise<void>
  createSession(args: ReadonlyArray<string>): Promise<string>
  sessionDir(sessionId: string): string
}

const servers: Array<RunningServer> = []
const homes: Array<TempHome> = []
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()))
  await Promise.all(homes.map((h) => h.cleanup()))
})

/** A server (SQLite, `env` added), a connected CLI home, and an empty TETHER_HOME for the host. */
const startWorld = async (env: Record<string, string> = {}): Promise<World> => {
  const home = freeTempHome()
  const hostHome = freeTempHome()
  homes.push(home, hostHome)
  const server = await startServer({ home: home.dir, env: { TETHER_PASSWORD: PASSWORD, ...env } })
  servers.push(server)
  await cliOk(["connect", `127.0.0.1:${server.port}`, "--password-stdin"], { home: home.dir, input: `${PASSWORD}\n` })
  const token = readConfig(home.dir).contexts[CONTEXT]?.accessToken
  if (token === undefined) throw new Error("tether connect saved no token")
  const url = server.url
  const api = async <A>(method: string, path: string, body?: unknown): Promise<{ status: number; body: A }> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, body: (text === "" ? undefined : JSON.parse(text)) as A }
  }
  return {
    url,
    token,
    hostHome: hostHome.dir,
    api,
    hostOnline: (online) =>
      eventually(`host ${online ? "online" : "offline"}`, async () => {
        const { body } = await api<{ hosts: ReadonlyArray<{ name: string; online: boolean }> }>("GET", "/v1/hosts")
        return body.hosts.some((h) => h.name === HOST && h.online === online)
      }),
    createSession: async (args) => {
      const created = await api<{ id: string }>("POST", "/v1/sessions", { harness: "shell", hostId: HOST, cwd: home.dir, args })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      return created.body.id
    },
    sessionDir: (sessionId) => join(hostHome.dir, "runner", HOST, "sessions", sessionId)
  }
}

const statusesOf = (records: ReadonlyArray<EventRecordJson>): Array<string> =>
  records.flatMap((r) => {
    const s = statusOf(r)
    return s === undefined ? [] : [`${s.status}(${s.reason ?? ""})`]
  })

describe("a runner killed mid-stream (SIGKILL) and restarted", () => {
  it("the stream continues: every line exactly once, in order, the exit code; input after the restart arrives", async () => {
    const world = await startWorld()
    const first = await startHost(world.hostHome, world.url, world.token)
    await world.hostOnline(true)
    const sessionId = await world.createSession([process.execPath, "-e", COUNTER])
    const stream = subscribeSession(world.url, sessionId, { token: world.token })
    const sessionDir = world.sessionDir(sessionId)

    try {
      await stream.waitFor("line 60", (r) => messageOf(r)?.text === "60", 15_000)
      const pgid = Number(readFileSync(join(sessionDir, "pgid"), "utf8"))
      groups.add(pgid)

      // The crash: no shutdown, no flush.
      process.kill(first.pid, "SIGKILL")
      await within("the killed host to exit", 5_000, first.exited)
      const killedAt = Date.now()
      await sleep(400)
      assert.isTrue(isAlive(pgid), "the session's supervisor outlives the runner")
      const heldBack = stream.records.length

      const second = await startHost(world.hostHome, world.url, world.token)
      await world.hostOnline(true)
      const last = await stream.waitFor(`line ${LINES}`, (r) => messageOf(r)?.text === String(LINES), 20_000)
      const resumedAfterMs = Date.now() - killedAt
      const sent = await world.api<{ delivery: string }>("POST", `/v1/sessions/${sessionId}/events`, { type: "message", text: "after restart" })
      assert.strictEqual(sent.status, 202, JSON.stringify(sent.body))

      const records = await within("the session finishing", 15_000, stream.done)
      assert.deepStrictEqual(records.map((r) => r.seq), records.map((_, i) => i + 1), "gap-free seqs")
      const lines = records.flatMap((r) => {
        const m = messageOf(r)
        return m !== undefined && m.role === "assistant" ? [m.text] : []
      })
      assert.deepStrictEqual(lines, [...Array.from({ length: LINES }, (_, i) => String(i + 1)), "got after restart"])
      const statuses = statusesOf(records)
      assert.notInclude(statuses.join(" "), "failed", statuses.join(" "))
      assert.strictEqual(statuses.at(-1), "exited(exit_code)")
      const finished = await world.api<{ status: string; exitCode: number | null }>("GET", `/v1/sessions/${sessionId}`)
      assert.strictEqual(finished.body.status, "exited")
      assert.strictEqual(finished.body.exitCode, 7)
      assert.isAbove(last.seq, heldBack, "lines printed while no runner was up arrived after the restart")

      // The finishing status is stored: the runner forgets the session's files.
      await eventually("the session directory removed", () => !existsSync(sessionDir), 5_000)
      assert.isFalse(isAlive(pgid))
      console.log(`runner restart: all ${LINES} lines after the restart within ${resumedAfterMs} ms of the SIGKILL; statuses ${statuses.join(" ")}`)

      process.kill(second.pid, "SIGTERM")
      assert.strictEqual(await within("the host stopping", 10_000, second.exited), 0, second.output())
    } finally {
      stream.close()
    }
  }, 90_000)

  it("a host back after its session failed with host_lost takes down what the previous runner left running", async () => {
    const world = await startWorld({ TETHER_HOST_GRACE: "1 second" })
    const first = await startHost(world.hostHome, world.url, world.token)
    await world.hostOnline(true)
    const sessionId = await world.createSession(["sh", "-c", "echo up; exec sleep 1000"])
    const stream = subscribeSession(world.url, sessionId, { token: world.token })
    const sessionDir = world.sessionDir(sessionId)
    try {
      await stream.waitFor("up", (r) => messageOf(r)?.text === "up", 15_000)
      const pgid = Number(readFileSync(join(sessionDir, "pgid"), "utf8"))
      groups.add(pgid)
      process.kill(first.pid, "SIGKILL")
      await within("the killed host to exit", 5_000, first.exited)
      const records = await within("host_lost", 15_000, stream.done)
      assert.strictEqual(statusesOf(records).at(-1), "failed(host_lost)")
      assert.isTrue(isAlive(pgid), "the command outlived its runner")

      const second = await startHost(world.hostHome, world.url, world.token)
      await world.hostOnline(true)
      await eventually("the leftover command stopped", () => !isAlive(pgid), 10_000)
      await eventually("the session directory removed", () => !existsSync(sessionDir), 5_000)
      const after = await world.api<{ status: string; lastSeq: number }>("GET", `/v1/sessions/${sessionId}`)
      assert.strictEqual(after.body.status, "failed")
      assert.strictEqual(after.body.lastSeq, records.length, "no events after host_lost")
      process.kill(second.pid, "SIGTERM")
      assert.strictEqual(await within("the host stopping", 10_000, second.exited), 0, second.output())
    } finally {
      stream.close()
    }
  }, 60_000)
})
