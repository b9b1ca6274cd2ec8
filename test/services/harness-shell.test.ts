import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { tmpdir } from "node:os"
import type { SessionEvent } from "../../src/domain/session-event.js"
import type { HarnessStartSpec } from "../../src/services/harness/Harness.js"
import { LineSplitter, makeShellHarness } from "../../src/services/harness/shell.js"
import { eventually, isStatus, makeCollector } from "../runner/support/events.js"
import { isRunning, runningGroupMembers } from "../runner/support/procs.js"
import { memoryTerminals } from "../runner/support/terminal.js"

const harness = makeShellHarness({ stopGrace: "1 second", drainTimeout: "200 millis" })

const spec = (args: ReadonlyArray<string>, emit: HarnessStartSpec["emit"], prompt: string | null = null): HarnessStartSpec => ({
  sessionId: "s1",
  cwd: tmpdir(),
  args,
  prompt,
  emit,
  terminal: memoryTerminals().factory
})

const statuses = (events: ReadonlyArray<SessionEvent>) =>
  events.flatMap((e) => (e.type === "status" ? [`${e.status}:${e.reason ?? ""}:${e.exitCode ?? ""}`] : []))

describe("shell harness", () => {
  it("advertises itself: always ready, streams lines, can be interrupted", async () => {
    assert.strictEqual(harness.name, "shell")
    assert.sameMembers([...harness.capabilities], ["streaming", "interrupt"])
    assert.deepStrictEqual(await Effect.runPromise(harness.readiness), { ready: true, detail: null })
  })

  it.scopedLive("cat echoes the prompt and each message as one line; stop ends it", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const session = yield* harness.start(spec(["cat"], c.emit, "hello"))
      yield* c.waitFor("hello", (e) => e.type === "message" && e.text === "hello")
      yield* session.send("second message")
      yield* c.waitFor("second", (e) => e.type === "message" && e.text === "second message")
      yield* session.stop
      assert.deepStrictEqual(yield* session.exited, { exitCode: null })
      assert.deepStrictEqual(c.texts("assistant"), ["hello", "second message"])
      assert.deepStrictEqual(statuses(c.events), ["running::", "exited:stopped:"])
      const ids = c.events.flatMap((e) => (e.type === "message" ? [e.messageId] : []))
      assert.strictEqual(new Set(ids).size, ids.length)
    }), { timeout: 10_000 })

  it.scopedLive("input reaches the process on stdin; it exits by itself with code 0", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const session = yield* harness.start(spec(["sh", "-c", "read x; echo got $x"], c.emit))
      yield* session.send("abc")
      assert.deepStrictEqual(yield* session.exited, { exitCode: 0 })
      assert.deepStrictEqual(c.texts(), ["got abc"])
      // running first, the exit last, after all output
      assert.deepStrictEqual(c.events.at(0), { type: "status", status: "running", reason: null, exitCode: null })
      assert.deepStrictEqual(c.events.at(-1), { type: "status", status: "exited", reason: "exit_code", exitCode: 0 })
      // input after the exit is refused, not lost silently
      const late = yield* Effect.exit(session.send("too late"))
      assert.isTrue(Exit.isFailure(late))
    }), { timeout: 10_000 })

  it.scopedLive("reports the exit code; stdout is assistant, stderr is system; a last line without newline is kept", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const session = yield* harness.start(spec(["sh", "-c", "echo out; echo err >&2; printf tail; exit 3"], c.emit))
      assert.deepStrictEqual(yield* session.exited, { exitCode: 3 })
      assert.deepStrictEqual(c.texts("assistant"), ["out", "tail"])
      assert.deepStrictEqual(c.texts("system"), ["err"])
      assert.deepStrictEqual(statuses(c.events), ["running::", "exited:exit_code:3"])
    }), { timeout: 10_000 })

  it.scopedLive("arguments are passed as-is, never through a shell", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const session = yield* harness.start(spec(["echo", "$HOME", "a;b", "*"], c.emit))
      yield* session.exited
      assert.deepStrictEqual(c.texts(), ["$HOME a;b *"])
    }), { timeout: 10_000 })

  it.scopedLive("a command that does not exist fails to start with a clear reason", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const error = yield* Effect.flip(harness.start(spec(["tether-no-such-command-xyz"], c.emit)))
      assert.strictEqual(error._tag, "HarnessError")
      assert.include(error.reason, "tether-no-such-command-xyz")
      assert.include(error.reason, "command not found (ENOENT)")
      assert.deepStrictEqual(c.events, [])

      const noDir = yield* Effect.flip(harness.start({ ...spec(["cat"], c.emit), cwd: "/nonexistent/tether-dir" }))
      assert.include(noDir.reason, "working directory /nonexistent/tether-dir does not exist")
      const noCommand = yield* Effect.flip(harness.start(spec([], c.emit)))
      assert.include(noCommand.reason, "needs a command")
    }), { timeout: 10_000 })

  it.scopedLive("interrupt sends SIGINT to the process group", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const session = yield* harness.start(spec(["sh", "-c", "trap 'echo interrupted; exit 130' INT; echo ready; while :; do sleep 0.05; done"], c.emit))
      yield* c.waitFor("ready", (e) => e.type === "message" && e.text === "ready")
      yield* session.interrupt
      assert.deepStrictEqual(yield* session.exited, { exitCode: 130 })
      assert.deepStrictEqual(c.texts(), ["ready", "interrupted"])

      const c2 = makeCollector()
      const plain = yield* harness.start(spec(["sleep", "1000"], c2.emit))
      yield* plain.interrupt
      assert.deepStrictEqual(yield* plain.exited, { exitCode: null })
      assert.deepStrictEqual(statuses(c2.events), ["running::", "exited:signal: SIGINT:"])
      // interrupting a finished session is harmless
      yield* plain.interrupt
    }), { timeout: 10_000 })

  it.scopedLive("stop takes down the whole process tree", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const session = yield* harness.start(spec(["sh", "-c", "echo $$; sleep 1000 & sleep 1000"], c.emit))
      const first = yield* c.waitFor("the shell's pid", (e) => e.type === "message")
      const pgid = Number(first.type === "message" ? first.text : NaN)
      // sh plus both sleeps, all in the session's own process group
      const members = yield* eventually("three processes", () => {
        const m = runningGroupMembers(pgid)
        return m.length >= 3 ? m : undefined
      })
      assert.notStrictEqual(pgid, process.pid)
      yield* session.stop
      for (const pid of members) assert.isFalse(isRunning(pid), `process ${pid} survived stop`)
      assert.deepStrictEqual(runningGroupMembers(pgid), [])
      assert.deepStrictEqual(statuses(c.events).at(-1), "exited:stopped:")
    }), { timeout: 10_000 })

  it.scopedLive("a process that ignores SIGTERM is killed after the grace period", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const session = yield* harness.start(spec(["sh", "-c", "trap '' TERM; echo $$; while :; do sleep 0.05; done"], c.emit))
      const first = yield* c.waitFor("pid", (e) => e.type === "message")
      const pgid = Number(first.type === "message" ? first.text : NaN)
      const started = Date.now()
      yield* session.stop
      const took = Date.now() - started
      assert.isAtLeast(took, 900)
      assert.isBelow(took, 5000)
      assert.deepStrictEqual(runningGroupMembers(pgid), [])
    }), { timeout: 10_000 })

  it.scopedLive("what a command leaves running when it exits is cleaned up with the session", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const session = yield* harness.start(spec(["sh", "-c", "echo $$; sleep 1000 >/dev/null 2>&1 &"], c.emit))
      const first = yield* c.waitFor("pid", (e) => e.type === "message")
      const pgid = Number(first.type === "message" ? first.text : NaN)
      assert.deepStrictEqual(yield* session.exited, { exitCode: 0 })
      yield* eventually("the background sleep to be gone", () => (runningGroupMembers(pgid).length === 0 ? true : undefined))
    }), { timeout: 10_000 })

  it.live("closing the session's scope stops the process", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const scope = yield* Scope.make()
      yield* harness.start(spec(["sh", "-c", "echo $$; sleep 1000"], c.emit)).pipe(Scope.extend(scope))
      const first = yield* c.waitFor("pid", (e) => e.type === "message")
      const pgid = Number(first.type === "message" ? first.text : NaN)
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(runningGroupMembers(pgid), [])
      assert.deepStrictEqual(statuses(c.events).at(-1), "exited:stopped:")
    }), { timeout: 10_000 })

  it.scopedLive("output is backpressured by emit, never dropped", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      let slow = 0
      const emit = (event: SessionEvent) =>
        Effect.zipRight(++slow % 1000 === 0 ? Effect.sleep("20 millis") : Effect.void, c.emit(event))
      const session = yield* harness.start(spec(["seq", "1", "20000"], emit))
      yield* session.exited
      const lines = c.texts("assistant")
      assert.strictEqual(lines.length, 20000)
      assert.isTrue(lines.every((line, i) => line === String(i + 1)))
    }), { timeout: 15_000 })
})

describe("LineSplitter", () => {
  it("splits across chunks, strips CRLF, cuts long lines, flushes the rest", () => {
    const s = new LineSplitter(4)
    assert.deepStrictEqual(s.push("ab"), [])
    assert.deepStrictEqual(s.push("c\r\nd"), ["abc"])
    assert.deepStrictEqual(s.push("efghij\nk"), ["defg", "hij"])
    assert.deepStrictEqual(s.push("lmnop"), ["klmn"])
    assert.deepStrictEqual(s.flush(), ["op"])
    assert.deepStrictEqual(s.flush(), [])
  })
})
