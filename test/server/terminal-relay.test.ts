/**
 * The terminal relay end to end in-process: the real server (SQLite), a real
 * runner with the `terminal` harness running programs in real PTYs, and
 * viewers over real WebSockets. Auth, read-only enforcement, typing, exit,
 * late joiners after exit, and refused upgrades.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { Scope } from "../../src/domain/scope.js"
import { runHost } from "../../src/runner/host.js"
import { TerminalRelay } from "../../src/services/terminal/TerminalRelay.js"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { apiServerLayer } from "../support/api-server.js"
import { sqliteTestLayer } from "../support/databases.js"
import WebSocket from "ws"
import { openViewer } from "../support/terminal-viewer.js"

const home = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "tether-terminal-relay-"))
process.env["TETHER_HOME"] = home
process.env["TETHER_TERMINAL_RESIZE_DEBOUNCE"] = "50 millis"

type Json = Record<string, unknown>

const issue = (scope: Scope, name = `viewer-${scope}`) =>
  Effect.flatMap(TokenStore, (t) => t.issue({ kind: "access", name, scope, createdBy: "test" })).pipe(
    Effect.map((issued) => Redacted.value(issued.token))
  )

const call = (token: string, method: "GET" | "POST", path: string, body?: unknown) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(path).pipe(HttpClientRequest.bearerToken(token))
    if (body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, body)
    const response = yield* client.execute(request)
    const text = yield* response.text
    return { status: response.status, body: (text === "" ? {} : JSON.parse(text)) as Json }
  })

const until = <A>(what: string, check: Effect.Effect<A | undefined, unknown, HttpClient.HttpClient | TokenStore>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400; i++) {
      const value = yield* check
      if (value !== undefined) return value
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

const serverUrl = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : "")

layer(apiServerLayer(sqliteTestLayer()), { excludeTestServices: true })("terminal relay", (it) => {
  const setup = Effect.gen(function*() {
    const url = yield* serverUrl
    const admin = yield* issue("admin", "admin")
    const runner = yield* issue("write", "runner")
    yield* Effect.forkScoped(runHost({ serverUrl: url, token: Redacted.make(runner), hostName: "pty-host" }))
    yield* until("the host", Effect.map(call(admin, "GET", "/v1/hosts"), (r) =>
      (r.body["hosts"] as Array<Json>).some((h) => h["name"] === "pty-host" && h["online"] === true) ? true : undefined))
    const start = (args: ReadonlyArray<string>) =>
      Effect.map(call(admin, "POST", "/v1/sessions", { harness: "terminal", cwd: home, args, hostId: "pty-host" }), (r) => {
        assert.strictEqual(r.status, 201, JSON.stringify(r.body))
        return String(r.body["id"])
      })
    return { url, admin, start }
  })

  it.scoped("viewers watch and type; read-only viewers are refused; the exit code and a late joiner's screen are right", () =>
    Effect.gen(function*() {
      const { admin, start, url } = yield* setup
      const writer = yield* issue("write")
      const reader = yield* issue("read")
      const id = yield* start(["sh", "-c", "printf 'ready\\n'; read line; echo \"got:$line\"; exit 3"])

      const a = yield* Effect.promise(() => openViewer(url, id, { token: writer }))
      const b = yield* Effect.promise(() => openViewer(url, id, { token: reader, via: "subprotocol" }))
      yield* Effect.promise(() => a.waitFor("ready on A", () => a.output().includes("ready") || a.frames.some((f) => f._tag === "Snapshot" && f.data.includes("ready"))))
      assert.strictEqual(b.socket.protocol, "tether.terminal.v1", "the server selects the fixed protocol, never the token")
      assert.deepInclude(b.metadata() ?? {}, { state: "live" })
      assert.deepInclude((b.metadata()?.["you"] ?? {}) as object, { canWrite: false })

      b.type("evil\r")
      yield* Effect.promise(() => b.waitFor("the read-only error", () => b.frames.some((f) => f._tag === "Error" && f.code === 4403)))
      b.send({ _tag: "Control", action: "take", data: {} })
      yield* Effect.promise(() => b.waitFor("control denied", () => b.frames.some((f) => f._tag === "Control" && f.action === "denied")))

      a.type("hello\r")
      const exitOf = (v: typeof a) => v.frames.find((f) => f._tag === "Exit")
      yield* Effect.promise(() => a.waitFor("exit on A", () => exitOf(a) !== undefined))
      yield* Effect.promise(() => b.waitFor("exit on B", () => exitOf(b) !== undefined))
      assert.deepInclude(exitOf(a) ?? {}, { code: 3, signal: null })
      const screenA = yield* Effect.promise(() => a.screen())
      const screenB = yield* Effect.promise(() => b.screen())
      assert.include(screenA.join("\n"), "got:hello")
      assert.notInclude(screenA.join("\n"), "got:evil")
      assert.deepStrictEqual(screenB, screenA)

      const session = yield* until("the session to exit", Effect.map(call(admin, "GET", `/v1/sessions/${id}`), (r) =>
        r.body["status"] === "exited" ? r.body : undefined))
      assert.strictEqual(session["exitCode"], 3)

      const late = yield* Effect.promise(() => openViewer(url, id, { token: reader }))
      yield* Effect.promise(() => late.waitFor("exit on the late viewer", () => late.frames.some((f) => f._tag === "Exit")))
      assert.strictEqual(late.frames.filter((f) => f._tag === "Snapshot").length, 1)
      assert.deepStrictEqual(yield* Effect.promise(() => late.screen()), screenA)
      assert.deepInclude(late.metadata() ?? {}, { state: "exited", exitCode: 3 })
      for (const v of [a, b, late]) v.close()
      const transcript = NodePath.join(home, "terminals", `${id}.out`)
      assert.isTrue(NodeFs.existsSync(transcript), "the transcript is persisted")
      assert.include(NodeFs.readFileSync(transcript, "utf8"), "got:hello")
      const watcher = yield* Effect.promise(() => openViewer(url, id, { token: reader }))
      yield* Effect.promise(() => watcher.waitFor("the watcher's snapshot", () => watcher.frames.some((f) => f._tag === "Snapshot")))
      const client = yield* HttpClient.HttpClient
      const deleted = yield* client.execute(HttpClientRequest.del(`/v1/sessions/${id}`).pipe(HttpClientRequest.bearerToken(admin)))
      assert.strictEqual(deleted.status, 200)
      yield* Effect.promise(() => watcher.waitFor("close 4410", () => watcher.closeCode() === 4410))
      assert.isFalse(NodeFs.existsSync(transcript), "deleting the session deletes its transcript")
    }), { timeout: 30_000 })

  it.scoped("the controller's size resizes the PTY; other viewers' sizes do not; everyone follows", () =>
    Effect.gen(function*() {
      const { start, url } = yield* setup
      const writer = yield* issue("write")
      const id = yield* start(["sh", "-c", "while read line; do stty size; done"])
      const a = yield* Effect.promise(() => openViewer(url, id, { token: writer }))
      const b = yield* Effect.promise(() => openViewer(url, id, { token: writer }))
      yield* Effect.promise(() => a.waitFor("metadata", () => a.metadata() !== null))
      b.send({ _tag: "Resize", cols: 50, rows: 10 }) // not the controller: ignored
      a.send({ _tag: "Control", action: "take", data: {} })
      yield* Effect.promise(() => a.waitFor("control", () => a.frames.some((f) => f._tag === "Control" && f.action === "granted")))
      a.send({ _tag: "Resize", cols: 100, rows: 30 })
      yield* Effect.promise(() => b.waitFor("B follows the new size", () => b.frames.some((f) => f._tag === "Resize" && f.cols === 100 && f.rows === 30)))
      a.type("\r")
      yield* Effect.promise(() => a.waitFor("stty output", () => a.output().includes("30 100")))
      assert.notInclude(a.output(), "10 50")
      assert.deepInclude((b.metadata()?.["controller"] ?? {}) as object, { name: "viewer-write" })
      b.send({ _tag: "Control", action: "take", data: {} })
      yield* Effect.promise(() => a.waitFor("A loses control", () => a.frames.some((f) => f._tag === "Control" && f.action === "revoked")))
      a.close()
      b.close()
    }), { timeout: 30_000 })

  it.scoped("refused upgrades: no token, a bad token, a foreign Origin, a token offered before the protocol; a non-terminal session closes 4404", () =>
    Effect.gen(function*() {
      const { admin, url } = yield* setup
      const reader = yield* issue("read")
      const refused = (options: Parameters<typeof openViewer>[2], id = "ses_x") =>
        Effect.promise(() => openViewer(url, id, options).then(() => "opened", (e: Error) => e.message))
      assert.include(yield* refused({ token: "" }), "401")
      assert.include(yield* refused({ token: "tat_notarealtoken" }), "401")
      assert.include(yield* refused({ token: reader, origin: "https://evil.example" }), "403")
      assert.include(yield* refused({ token: reader }, "ses_missing"), "404")
      const shell = yield* call(admin, "POST", "/v1/sessions", { harness: "shell", cwd: home, args: ["sleep", "5"], hostId: "pty-host" })
      const viewer = yield* Effect.promise(() => openViewer(url, String(shell.body["id"]), { token: reader }))
      yield* Effect.promise(() => viewer.waitFor("close 4404", () => viewer.closeCode() === 4404))
      yield* call(admin, "POST", `/v1/sessions/${String(shell.body["id"])}/events`, { type: "stop" })
    }), { timeout: 30_000 })

  it.scoped("query replies reach the program only from the controller; other viewers' keystrokes still do", () =>
    Effect.gen(function*() {
      const { start, url } = yield* setup
      const writer = yield* issue("write")
      const id = yield* start(["sh", "-c", "stty -echo; printf 'Q\\n'; exec cat -v"])
      const a = yield* Effect.promise(() => openViewer(url, id, { token: writer }))
      const b = yield* Effect.promise(() => openViewer(url, id, { token: writer }))
      const seen = (v: typeof a, text: string) => () => v.output().includes(text) || v.frames.some((f) => f._tag === "Snapshot" && f.data.includes(text))
      yield* Effect.promise(() => a.waitFor("Q", seen(a, "Q")))
      a.send({ _tag: "Control", action: "take", data: {} })
      yield* Effect.promise(() => a.waitFor("control", () => a.frames.some((f) => f._tag === "Control" && f.action === "granted")))
      b.type("\x1b[7;7R\x1b[?62;22cb-keys\r")
      yield* Effect.promise(() => a.waitFor("B's keys", seen(a, "b-keys")))
      a.type("\x1b[5;5Ra-keys\r")
      yield* Effect.promise(() => a.waitFor("A's keys", seen(a, "a-keys")))
      const screen = (yield* Effect.promise(() => a.screen())).join("\n")
      assert.include(screen, "^[[5;5Ra-keys", "the controller's cursor report reaches the program")
      assert.notInclude(screen, "7;7R", "another viewer's cursor report is dropped")
      assert.notInclude(screen, "62;22c", "another viewer's device attributes are dropped")
      a.close()
      b.close()
    }), { timeout: 30_000 })

  it.scoped("a stalled viewer never slows the others; when it reads again it gets every byte it missed, from the transcript", () =>
    Effect.gen(function*() {
      const { start, url } = yield* setup
      const writer = yield* issue("write")
      const relay = yield* TerminalRelay
      const lines = 900_000 // ~7 MB: more than the 4 MiB ring, so what it missed comes from the transcript on disk
      const total = Array.from({ length: lines }, (_, i) => String(i + 1).length + 2).reduce((a, b) => a + b, 0)
      const id = yield* start(["sh", "-c", `stty -echo; read go; seq 1 ${lines}`])
      const fast = yield* Effect.promise(() => openViewer(url, id, { token: writer }))
      const slow = yield* Effect.promise(() => openViewer(url, id, { token: writer, noAck: true }))
      yield* Effect.promise(() => slow.waitFor("metadata", () => slow.metadata() !== null))
      slow.pauseReading()
      fast.type("\r")
      yield* Effect.promise(() => fast.waitFor("every byte at the fast viewer", () => fast.offset() >= total, 60_000))
      assert.strictEqual(fast.offset(), total)
      const terminal = relay.loaded().find((t) => t.sessionId === id)
      assert.isDefined(terminal)
      assert.isAtLeast(terminal!.stats.stalls, 1, "the slow viewer was stalled")
      assert.isBelow(slow.offset(), total)
      slow.resumeReading()
      slow.setAcking(true)
      yield* Effect.promise(() => slow.waitFor("the slow viewer catches up", () => slow.offset() >= total, 60_000))
      assert.strictEqual(slow.frames.filter((f) => f._tag === "Snapshot").length, 1, "no resync: only the joining snapshot")
      assert.isAbove(terminal!.stats.replayed, 0, "replayed from the transcript")
      assert.deepStrictEqual(yield* Effect.promise(() => slow.screen()), yield* Effect.promise(() => fast.screen()))
      fast.close()
      slow.close()
    }), { timeout: 90_000 })

  it.scoped("a subprotocol token offered before the fixed protocol is refused (400): it would be echoed", () =>
    Effect.gen(function*() {
      const { url } = yield* setup
      const reader = yield* issue("read")
      const status = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const socket = new WebSocket(`${url.replace("http", "ws")}/v1/sessions/ses_x/terminal`, [`tether.token.${reader}`, "tether.terminal.v1"])
          socket.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0))
          socket.on("open", () => resolve(101))
          socket.on("error", () => {})
        })
      )
      assert.strictEqual(status, 400)
    }))
})
