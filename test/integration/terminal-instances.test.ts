/**
 * Two server processes on one PostgreSQL database, each with
 * TETHER_INSTANCE_URL, and a host that reaches them through a TCP proxy
 * standing in for a load balancer:
 * - the host's terminal link goes to instance A; a viewer that reaches
 *   instance B watches and types through B (forwarded to A); when A stops,
 *   B's viewer hears why and B then serves the terminal itself;
 * - the balancer sends the host to B instead: the terminal moves there,
 *   A's viewers are told to reconnect, and reconnecting to A they are
 *   forwarded to B and continue where they were.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { serverBackends } from "../support/server-backends.js"
import { childEnv, cliPath, freeTempHome, runCli, startServer, type RunningServer, type TempHome } from "../support/processes.js"
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js"
import { openViewer, type TestViewer } from "../support/terminal-viewer.js"
import { connectArgs, freePort, readConfig, waitUntil } from "./helpers.js"

/** Waits until some row of the viewer's screen reads `text`. */
const screenShows = async (viewer: TestViewer, text: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const screen = await viewer.screen()
    if (screen.includes(text)) return
    if (Date.now() > deadline) throw new Error(`the screen never showed ${JSON.stringify(text)}: ${JSON.stringify(screen)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

interface Pair {
  readonly a: RunningServer
  readonly b: RunningServer
  /** The host's way in: to A at first. */
  readonly balancer: TcpProxy
  readonly token: string
  readonly api: (server: RunningServer, method: string, path: string, body?: unknown) => Promise<{ status: number; body: Record<string, unknown> | null }>
  /** Starts a terminal session on the host: `sh -c program`. */
  readonly startTerminal: (program: string) => Promise<string>
}

const postgres = (await serverBackends("terminal across server instances")).find((backend) => backend.name === "postgres")!

describe.skipIf(postgres.unavailable !== undefined)("a terminal across two server instances (postgres)", () => {
  const cleanups: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
    await postgres.teardown()
  })

  const startPair = async (): Promise<Pair> => {
    const database = await postgres.database()
    const homes: Array<TempHome> = [freeTempHome(), freeTempHome(), freeTempHome()]
    cleanups.push(() => Promise.all(homes.map((home) => home.cleanup())))
    const [homeA, homeB, hostHome] = homes as [TempHome, TempHome, TempHome]
    const [portA, portB] = [await freePort(), await freePort()]
    const instance = (port: number) => ({ ...database, TETHER_INSTANCE_URL: `http://127.0.0.1:${port}` })
    const a = await startServer({ home: homeA.dir, port: portA, env: instance(portA) })
    cleanups.push(() => a.stop())
    const b = await startServer({ home: homeB.dir, port: portB, env: instance(portB) })
    cleanups.push(() => b.stop())
    const balancer = await startTcpProxy(portA)
    cleanups.push(() => balancer.close())
    const connected = await runCli(connectArgs(balancer.port), { home: hostHome.dir, input: `${a.password}\n` })
    assert.strictEqual(connected.code, 0, connected.stderr)
    const config = readConfig(hostHome.dir)
    const token = config.contexts[config.currentContext]!.accessToken!
    const api: Pair["api"] = async (server, method, path, body) => {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      return { status: response.status, body: (await response.json().catch(() => null)) as Record<string, unknown> | null }
    }
    const host = spawn(process.execPath, [cliPath, "host", "--name", "here"], { env: childEnv(hostHome.dir), stdio: "ignore", detached: true })
    cleanups.push(async () => {
      try {
        if (host.pid !== undefined) process.kill(-host.pid, "SIGTERM")
      } catch {
        // gone
      }
    })
    let online = false
    await waitUntil("the host to come online", () => {
      void api(a, "GET", "/v1/hosts").then((r) => {
        const hosts = Array.isArray(r.body) ? r.body : (r.body?.["hosts"] as Array<Record<string, unknown>> | undefined) ?? []
        online = hosts.some((h: Record<string, unknown>) => h["name"] === "here" && h["online"] === true)
      })
      return online
    }, 20_000)
    const startTerminal = async (program: string) => {
      const created = await api(a, "POST", "/v1/sessions", { harness: "terminal", hostId: "here", cwd: hostHome.dir, args: ["sh", "-c", program] })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      return String(created.body!["id"])
    }
    return { a, b, balancer, token, api, startTerminal }
  }

  /** Reads lines and answers each: `got <line>`. */
  const ECHO_PROGRAM = "printf 'ready\\n'; while read line; do echo \"got $line\"; done"

  it("a viewer on B watches and types into a terminal held by A; when A stops it is told, and B then serves the terminal itself", async () => {
    const { a, b, token, startTerminal } = await startPair()
    const sessionId = await startTerminal(ECHO_PROGRAM)

    const onA = await openViewer(a.url, sessionId, { token })
    await screenShows(onA, "ready")
    const onB = await openViewer(b.url, sessionId, { token })
    await screenShows(onB, "ready")
    assert.strictEqual(onB.metadata()?.["state"], "live")

    onB.type("from-b\r")
    await screenShows(onA, "got from-b")
    await screenShows(onB, "got from-b")
    assert.strictEqual(onB.offset(), onA.offset(), "both viewers hold the same stream")

    // A stops: its close code reaches B's viewer through the forward.
    await a.stop()
    await onB.waitFor("B's viewer closed", () => onB.closeCode() !== null, 15_000)
    assert.strictEqual(onA.closeCode(), 1001, "A's own viewer: the server is shutting down")
    assert.strictEqual(onB.closeCode(), 1001, "the same close code through the forward")
    // A's heartbeat is gone: B serves the terminal itself now (the host's link went down with A).
    const again = await openViewer(b.url, sessionId, { token })
    await again.waitFor("B's own metadata", () => again.metadata() !== null, 10_000)
    assert.strictEqual(again.metadata()?.["state"], "reconnecting")
    again.close()
  }, 90_000)

  it("the host's link moves to B: A's viewer is told to reconnect, is forwarded to B and continues where it was", async () => {
    const { a, b, balancer, token, startTerminal } = await startPair()
    const sessionId = await startTerminal(ECHO_PROGRAM)
    const first = await openViewer(a.url, sessionId, { token })
    await screenShows(first, "ready")
    first.type("one\r")
    await screenShows(first, "got one")
    const offset = first.offset()

    // The balancer sends new connections to B and drops the current ones: the host reconnects there.
    balancer.retarget(b.port)
    balancer.cut()
    await first.waitFor("A sends its viewer away", () => first.closeCode() !== null, 20_000)
    assert.strictEqual(first.closeCode(), 4307)

    // The viewer reconnects to A as before; A forwards it to B, where the terminal is now.
    const second = await openViewer(a.url, sessionId, { token, resumeFrom: offset })
    await second.waitFor("live again", () => second.metadata()?.["state"] === "live", 20_000)
    second.type("two\r")
    await second.waitFor("the program's answer", () => second.output().includes("got two"), 15_000)
    assert.isFalse(second.frames.some((f) => f._tag === "Snapshot"), "it continued from its offset: no snapshot")
    assert.strictEqual(second.frames.find((f) => f._tag === "Output")?._tag === "Output" ? (second.frames.find((f) => f._tag === "Output") as { offset: number }).offset : -1, offset)
    second.close()
  }, 90_000)
})
