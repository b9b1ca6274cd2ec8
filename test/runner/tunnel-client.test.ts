import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { EventOutbox } from "../../src/runner/EventOutbox.js"
import { layerRunner, runRunner } from "../../src/runner/host.js"
import { SessionManager } from "../../src/runner/SessionManager.js"
import { TunnelClient, tunnelUrl, type TunnelStopped } from "../../src/runner/TunnelClient.js"
import { makeShellHarness } from "../../src/services/harness/shell.js"
import * as NodeHttp from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import type { Duplex } from "node:stream"
import { eventually } from "./support/events.js"
import { type CommandInput, FakeTunnelServer } from "./support/fake-tunnel-server.js"
import { isRunning, runningGroupMembers } from "./support/procs.js"

const TOKEN = "tat_runner_test_token_0123456789"
const TIMEOUT = { timeout: 15_000 }

/** Starts a runner against the fake; interrupted (gracefully) when the test's scope closes. */
const startRunner = (fake: FakeTunnelServer, token = TOKEN) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      layerRunner({
        serverUrl: fake.url,
        token: Redacted.make(token),
        hostName: "test-host",
        harnesses: [makeShellHarness({ stopGrace: "500 millis", drainTimeout: "100 millis" })],
        flushTimeout: "1 second",
        tunnel: { heartbeatInterval: "200 millis" }
      })
    )
    const fiber = yield* Effect.forkScoped(
      runRunner("1 second").pipe(Effect.provide(context), Logger.withMinimumLogLevel(LogLevel.Warning))
    )
    return {
      fiber,
      tunnel: Context.get(context, TunnelClient),
      outbox: Context.get(context, EventOutbox),
      sessions: Context.get(context, SessionManager)
    }
  })

const events = (fake: FakeTunnelServer, sessionId: string): ReadonlyArray<SessionEvent> => fake.stored.get(sessionId) ?? []
const texts = (fake: FakeTunnelServer, sessionId: string) =>
  events(fake, sessionId).flatMap((e) => (e.type === "message" ? [e.text] : []))
const statusOf = (e: SessionEvent) => (e.type === "status" ? `${e.status}:${e.reason ?? ""}` : null)
const statuses = (fake: FakeTunnelServer, sessionId: string) =>
  events(fake, sessionId).flatMap((e) => {
    const s = statusOf(e)
    return s === null ? [] : [s]
  })

const start = (
  sessionId: string,
  args: ReadonlyArray<string>,
  prompt: string | null = null,
  lastRseq = 0,
  harness = "shell"
): CommandInput => ({
  type: "start_session",
  sessionId,
  harness,
  cwd: tmpdir(),
  args,
  prompt,
  lastRseq
})

/** Waits until the runner has been welcomed `connections` times and is connected now. */
const waitConnected = (fake: FakeTunnelServer, runner: { readonly tunnel: TunnelClient }, connections = 1) =>
  eventually(`connection ${connections}`, () => {
    const state = Effect.runSync(runner.tunnel.state)
    return fake.connections >= connections && state.connected && state.connections >= connections ? true : undefined
  })

const failureOf = (exit: Exit.Exit<never, TunnelStopped>) =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined

const runWith = <A, E>(body: (fake: FakeTunnelServer) => Effect.Effect<A, E, Scope.Scope>, options: { readonly protocolVersion?: number } = {}) =>
  Effect.flatMap(FakeTunnelServer.make({ token: TOKEN, ...options }), body)

describe("tunnelUrl", () => {
  it("appends the tunnel path, switches to ws(s), and keeps nothing secret in the URL", () => {
    assert.strictEqual(tunnelUrl("http://127.0.0.1:8080"), "ws://127.0.0.1:8080/v1/runners/tunnel")
    assert.strictEqual(tunnelUrl("https://tether.example.com/base/"), "wss://tether.example.com/base/v1/runners/tunnel")
    assert.strictEqual(tunnelUrl("https://user:pw@h.example/?token=x#f"), "wss://h.example/v1/runners/tunnel")
  })
})

describe("TunnelClient against a fake server over a real WebSocket", () => {
  it.scopedLive("hello/welcome: authenticates in the upgrade header (not the URL), announces its harnesses, heartbeats", () =>
    runWith((fake) =>
      Effect.gen(function*() {
        const runner = yield* startRunner(fake)
        yield* waitConnected(fake, runner)
        yield* eventually("two heartbeats", () => (fake.heartbeats >= 2 ? true : undefined))

        assert.strictEqual(fake.upgrades.length, 1)
        assert.strictEqual(fake.upgrades[0]?.authorization, `Bearer ${TOKEN}`)
        assert.strictEqual(fake.upgrades[0]?.url, "/v1/runners/tunnel")
        assert.notInclude(fake.upgrades[0]?.url ?? "", TOKEN)
        assert.isAbove(fake.rpcAuthorizations.length, 0)
        assert.isTrue(fake.rpcAuthorizations.every((a) => a === `Bearer ${TOKEN}`))
        const hello = fake.connects[0]
        assert.strictEqual(hello?.protocolVersion, 1)
        assert.strictEqual(hello?.hostName, "test-host")
        assert.deepStrictEqual(hello?.harnesses, [{ name: "shell", ready: true }])
        const state = yield* runner.tunnel.state
        assert.strictEqual(state.hostId, "hst_fake")
        assert.strictEqual(state.connections, 1)
      })), TIMEOUT)

  it.scopedLive("commands are dispatched and acknowledged in order; events arrive with rseq 1, 2, 3 …", () =>
    runWith((fake) =>
      Effect.gen(function*() {
        const runner = yield* startRunner(fake)
        yield* waitConnected(fake, runner)
        yield* fake.enqueue(start("s1", ["cat"], "hello"))
        yield* fake.enqueue({ type: "send_input", sessionId: "s1", text: "a" })
        yield* fake.enqueue({ type: "send_input", sessionId: "s1", text: "b" })
        yield* eventually("b echoed", () => (texts(fake, "s1").includes("b") ? true : undefined))
        yield* fake.enqueue({ type: "stop", sessionId: "s1" })
        yield* eventually("exited", () => (statuses(fake, "s1").includes("exited:stopped") ? true : undefined))

        assert.deepStrictEqual(fake.acks, [1, 2, 3, 4])
        assert.deepStrictEqual(texts(fake, "s1"), ["hello", "a", "b"])
        assert.deepStrictEqual(statuses(fake, "s1"), ["running:", "exited:stopped"])
        const pushed = fake.pushes.filter((p) => p.sessionId === "s1").flatMap((p) => p.rseqs)
        assert.deepStrictEqual(pushed, [1, 2, 3, 4, 5])
        assert.strictEqual(fake.duplicates, 0)
        // everything acknowledged is gone from the outbox
        yield* eventually("outbox drained", () => (Effect.runSync(runner.outbox.unackedCount) === 0 ? true : undefined))
      })), TIMEOUT)

  it.scopedLive("a session started with lastRseq continues after it; a repeated start_session does not start it twice", () =>
    runWith((fake) =>
      Effect.gen(function*() {
        const earlier: SessionEvent = { type: "message", messageId: "old", role: "assistant", text: "from before" }
        fake.stored.set("s2", [earlier, earlier, earlier])
        const runner = yield* startRunner(fake)
        yield* waitConnected(fake, runner)
        yield* fake.enqueue(start("s2", ["cat"], "again", 3))
        yield* eventually("echo", () => (texts(fake, "s2").includes("again") ? true : undefined))
        yield* fake.enqueue(start("s2", ["cat"], "again", 5))
        yield* fake.enqueue({ type: "send_input", sessionId: "s2", text: "once" })
        yield* eventually("once", () => (texts(fake, "s2").includes("once") ? true : undefined))
        assert.deepStrictEqual(fake.pushes.filter((p) => p.sessionId === "s2").flatMap((p) => p.rseqs), [4, 5, 6])
        assert.deepStrictEqual(texts(fake, "s2"), ["from before", "from before", "from before", "again", "once"])
        assert.deepStrictEqual((yield* runner.sessions.list).map((s) => s.sessionId), ["s2"])
      })), TIMEOUT)

  it.scopedLive("the server drops the connection mid-stream: the runner reconnects with backoff and resends exactly the unacknowledged events", () =>
    runWith((fake) =>
      Effect.gen(function*() {
        const runner = yield* startRunner(fake)
        yield* waitConnected(fake, runner)
        yield* fake.enqueue(start("s3", ["cat"], "one"))
        yield* eventually("one stored", () => (fake.storedRseqs("s3") === 2 ? true : undefined))
        yield* eventually("acknowledged", () =>
          Effect.runSync(runner.outbox.position("s3"))?.ackedThrough === 2 ? true : undefined)

        // The server stores the next batch but its answer never arrives…
        fake.pushMode = "storeThenHang"
        yield* fake.enqueue({ type: "send_input", sessionId: "s3", text: "two" })
        yield* eventually("two stored", () => (fake.storedRseqs("s3") === 3 ? true : undefined))
        // …and more is emitted while that push hangs.
        yield* fake.enqueue({ type: "send_input", sessionId: "s3", text: "three" })
        yield* eventually("three emitted", () => Effect.runSync(runner.outbox.position("s3"))?.lastRseq === 4 ? true : undefined)
        assert.strictEqual(Effect.runSync(runner.outbox.position("s3"))?.ackedThrough, 2)

        fake.pushMode = "normal"
        const pushesBefore = fake.pushes.length
        const droppedAt = Date.now()
        yield* fake.dropConnections
        yield* waitConnected(fake, runner, 2)
        const reconnectedAfter = (fake.upgrades[1]?.at ?? 0) - droppedAt
        yield* eventually("all stored", () => (fake.storedRseqs("s3") === 4 ? true : undefined))

        // jittered backoff: first retry after 0.5 s ± 20 %
        assert.isAtLeast(reconnectedAfter, 350)
        assert.isBelow(reconnectedAfter, 3000)
        // resent: exactly what was not acknowledged (3 and 4), the server ignoring the one it had
        const resent = fake.pushes.slice(pushesBefore).filter((p) => p.sessionId === "s3").flatMap((p) => p.rseqs)
        assert.deepStrictEqual(resent, [3, 4])
        assert.strictEqual(fake.duplicates, 1)
        assert.deepStrictEqual(texts(fake, "s3"), ["one", "two", "three"])
        yield* eventually("trimmed", () => Effect.runSync(runner.outbox.unackedCount) === 0 ? true : undefined)
        const state = yield* runner.tunnel.state
        assert.strictEqual(state.connections, 2)
        assert.isNotNull(state.lastDisconnect)
      })), TIMEOUT)

  it.scopedLive("a command redelivered after a lost acknowledgement is acknowledged again but acted on once", () =>
    runWith((fake) =>
      Effect.gen(function*() {
        const runner = yield* startRunner(fake)
        yield* waitConnected(fake, runner)
        yield* fake.enqueue(start("s4", ["cat"]))
        yield* eventually("running", () => (statuses(fake, "s4").includes("running:") ? true : undefined))
        fake.recordAcks = false
        const seq = yield* fake.enqueue({ type: "send_input", sessionId: "s4", text: "only once" })
        yield* eventually("echo", () => (texts(fake, "s4").includes("only once") ? true : undefined))
        fake.recordAcks = true
        yield* fake.dropConnections
        yield* waitConnected(fake, runner, 2)
        yield* eventually("re-acknowledged", () => (fake.acks.includes(seq) ? true : undefined))
        yield* fake.enqueue({ type: "send_input", sessionId: "s4", text: "next" })
        yield* eventually("next", () => (texts(fake, "s4").includes("next") ? true : undefined))
        assert.deepStrictEqual(texts(fake, "s4"), ["only once", "next"])
        assert.strictEqual((yield* runner.tunnel.state).lastCommandSeq, seq + 1)
      })), TIMEOUT)

  it.scopedLive("while the server refuses connections the delays grow: 0.5 s, 1 s, 2 s (each ±20 %)", () =>
    runWith((fake) =>
      Effect.gen(function*() {
        const runner = yield* startRunner(fake)
        yield* waitConnected(fake, runner)
        fake.refuseConnections = true
        const droppedAt = Date.now()
        const before = fake.tcpConnections.length
        yield* fake.dropConnections
        yield* eventually("three refused attempts", () => (fake.tcpConnections.length - before >= 3 ? true : undefined), "8 seconds")
        const attempts = fake.tcpConnections.slice(before, before + 3)
        const gaps = [attempts[0]! - droppedAt, attempts[1]! - attempts[0]!, attempts[2]! - attempts[1]!]
        assert.isTrue(gaps[0]! >= 350 && gaps[0]! < 1000, `first delay ${gaps[0]}`)
        assert.isTrue(gaps[1]! >= 700 && gaps[1]! < 1700, `second delay ${gaps[1]}`)
        assert.isTrue(gaps[2]! >= 1400 && gaps[2]! < 3000, `third delay ${gaps[2]}`)
        const state = yield* runner.tunnel.state
        assert.isFalse(state.connected)
        assert.strictEqual(fake.connections, 1)
      })), TIMEOUT)

  it.scopedLive("ProtocolMismatch stops the runner with both versions in the message, without retrying", () =>
    runWith((fake) =>
      Effect.gen(function*() {
        const runner = yield* startRunner(fake)
        const exit = yield* Fiber.await(runner.fiber)
        const error = failureOf(exit)
        assert.strictEqual(error?._tag, "TunnelProtocolMismatch")
        assert.include(error?.message ?? "", "server speaks version 7")
        assert.include(error?.message ?? "", "speaks version 1")
        yield* Effect.sleep("700 millis")
        assert.strictEqual(fake.connects.length, 1)
      }), { protocolVersion: 7 }), TIMEOUT)

  it.scopedLive("Superseded stops the runner (another runner took the host over)", () =>
    runWith((fake) =>
      Effect.gen(function*() {
        const runner = yield* startRunner(fake)
        yield* waitConnected(fake, runner)
        yield* fake.supersede
        const error = failureOf(yield* Fiber.await(runner.fiber))
        assert.strictEqual(error?._tag, "TunnelSuperseded")
        assert.include(error?.message ?? "", "another runner took over this host")
      })), TIMEOUT)

  it.scopedLive("a rejected token stops the runner with the server's reason", () =>
    runWith((fake) =>
      Effect.gen(function*() {
        const runner = yield* startRunner(fake, "tat_wrong_token")
        const error = failureOf(yield* Fiber.await(runner.fiber))
        assert.strictEqual(error?._tag, "TunnelRejected")
        assert.include(error?.message ?? "", "unknown token")
        assert.strictEqual(fake.upgrades[0]?.authorization, "Bearer tat_wrong_token")
      })), TIMEOUT)

  it.scopedLive("an upgrade refused with HTTP 401 stops the runner too", () =>
    Effect.gen(function*() {
      // Not a tunnel at all: a plain HTTP server that refuses every upgrade.
      const upgrades: Array<string | undefined> = []
      const server = yield* Effect.acquireRelease(
        Effect.async<NodeHttp.Server>((resume) => {
          const s = NodeHttp.createServer((_req, res) => {
            res.writeHead(404).end()
          })
          s.on("upgrade", (req: NodeHttp.IncomingMessage, socket: Duplex) => {
            upgrades.push(req.headers.authorization)
            socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
          })
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) =>
          Effect.async<void>((resume) => {
            s.close(() => resume(Effect.void))
          })
      )
      const port = (server.address() as AddressInfo).port
      const context = yield* Layer.build(
        layerRunner({ serverUrl: `http://127.0.0.1:${port}`, token: Redacted.make(TOKEN), hostName: "test-host", harnesses: [] })
      )
      const exit = yield* runRunner().pipe(Effect.provide(context), Logger.withMinimumLogLevel(LogLevel.None), Effect.exit)
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "TunnelRejected")
      assert.include(error?.message ?? "", "HTTP 401")
      assert.deepStrictEqual(upgrades, [`Bearer ${TOKEN}`])
    }), TIMEOUT)

  it.scopedLive("an unknown harness is reported as a failed session; a session the server does not know is stopped here", () =>
    runWith((fake) =>
      Effect.gen(function*() {
        const runner = yield* startRunner(fake)
        yield* waitConnected(fake, runner)
        yield* fake.enqueue(start("s6", [], null, 0, "nope"))
        yield* eventually("failed", () => (statuses(fake, "s6").length > 0 ? true : undefined))
        const failed = events(fake, "s6")[0]
        assert.strictEqual(failed?.type, "status")
        if (failed?.type === "status") {
          assert.strictEqual(failed.status, "failed")
          assert.include(failed.reason ?? "", "harness_error: no harness \"nope\" on this host (it offers: shell)")
        }

        fake.unknownSessions.add("ghost")
        yield* fake.enqueue(start("ghost", ["sh", "-c", "echo $$; sleep 1000"]))
        yield* eventually("ghost forgotten", () =>
          Effect.runSync(runner.sessions.list).some((s) => s.sessionId === "ghost") ? undefined : true)
        assert.strictEqual(yield* runner.outbox.position("ghost"), null)
      })), TIMEOUT)

  it.scopedLive("shutdown stops every session's processes and flushes their final events first", () =>
    runWith((fake) =>
      Effect.gen(function*() {
        const runner = yield* startRunner(fake)
        yield* waitConnected(fake, runner)
        yield* fake.enqueue(start("s7", ["sh", "-c", "echo $$; sleep 1000 & sleep 1000"]))
        yield* eventually("pid", () => (texts(fake, "s7").length > 0 ? true : undefined))
        const pgid = Number(texts(fake, "s7")[0])
        const members = yield* eventually("group", () => {
          const m = runningGroupMembers(pgid)
          return m.length >= 3 ? m : undefined
        })
        yield* Fiber.interrupt(runner.fiber)
        for (const pid of members) assert.isFalse(isRunning(pid), `process ${pid} survived shutdown`)
        assert.deepStrictEqual(statuses(fake, "s7"), ["running:", "exited:stopped"])
      })), TIMEOUT)
})
