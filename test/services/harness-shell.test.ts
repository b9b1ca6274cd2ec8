import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Duration from "effect/Duration"
import fc from "fast-check"
import { mkdtempSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { SessionEvent } from "../../src/domain/session-event.js"
import type { HarnessStartSpec } from "../../src/services/harness/Harness.js"
import { LineSplitter, makeShellHarness } from "../../src/services/harness/shell.js"
import { SpoolLines } from "../../src/services/harness/supervisor/spool-lines.js"
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

/**
 * The supervised mode (the runner has a durable `stateDir`): the command runs
 * under a supervisor that outlives the runner, with spool files and a FIFO in
 * the session's directory. A runner crash is simulated by an `emit` that
 * never returns after a while (the runner stops recording); a second runner
 * then `reattach`es with the last checkpoint it recorded.
 */
describe("shell harness, supervised (durable state directory)", () => {
  const supervised = makeShellHarness({ stopGrace: "300 millis", drainTimeout: "200 millis" })

  interface Recorded {
    readonly event: SessionEvent
    readonly checkpoint: unknown
  }

  /** A recording runner: keeps events with their checkpoints; after `crashAfter` messages it stops returning. */
  const recorder = (crashAfter = Infinity) => {
    const recorded: Array<Recorded> = []
    let messages = 0
    const emit = (event: SessionEvent, checkpoint?: unknown): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (event.type === "message" && ++messages > crashAfter) return Effect.never
        recorded.push({ event, checkpoint })
        return Effect.void
      })
    const emitAll = (items: ReadonlyArray<{ readonly event: SessionEvent; readonly checkpoint?: unknown }>) =>
      Effect.forEach(items, (item) => emit(item.event, item.checkpoint), { discard: true })
    return {
      recorded,
      emit,
      emitAll,
      events: () => recorded.map((r) => r.event),
      waitFor: (what: string, predicate: (event: SessionEvent) => boolean, timeout: Duration.DurationInput = "5 seconds") =>
        eventually(what, () => recorded.find((r) => predicate(r.event))?.event, timeout)
    }
  }

  const supervisedSpec = (args: ReadonlyArray<string>, r: ReturnType<typeof recorder>, stateDir: string, prompt: string | null = null): HarnessStartSpec => ({
    ...spec(args, r.emit, prompt),
    emitAll: r.emitAll,
    stateDir
  })

  const stateDir = () => mkdtempSync(join(tmpdir(), "tether-shell-"))
  const texts = (events: ReadonlyArray<SessionEvent>, role?: string) =>
    events.flatMap((e) => (e.type === "message" && (role === undefined || e.role === role) ? [e.text] : []))

  it.scopedLive("cat echoes the prompt and each message through the FIFO; stop ends it; files are private", () =>
    Effect.gen(function*() {
      const r = recorder()
      const dir = stateDir()
      const session = yield* supervised.start(supervisedSpec(["cat"], r, dir, "hello"))
      yield* r.waitFor("hello", (e) => e.type === "message" && e.text === "hello")
      yield* session.send("second message")
      yield* r.waitFor("second", (e) => e.type === "message" && e.text === "second message")
      for (const name of ["stdout", "stderr", "stdin", "pgid"]) {
        assert.strictEqual(statSync(join(dir, name)).mode & 0o077, 0, `${name} is private`)
      }
      yield* session.stop
      assert.deepStrictEqual(yield* session.exited, { exitCode: null })
      assert.deepStrictEqual(texts(r.events()), ["hello", "second message"])
      assert.deepStrictEqual(statuses(r.events()), ["running::", "exited:stopped:"])
      const late = yield* Effect.exit(session.send("too late"))
      assert.isTrue(Exit.isFailure(late))
    }), { timeout: 10_000 })

  it.scopedLive("exit code, stdout as assistant, stderr as system, an unterminated last line; a missing command fails start", () =>
    Effect.gen(function*() {
      const r = recorder()
      const session = yield* supervised.start(supervisedSpec(["sh", "-c", "echo out; echo err >&2; printf tail; exit 3"], r, stateDir()))
      assert.deepStrictEqual(yield* session.exited, { exitCode: 3 })
      assert.deepStrictEqual(texts(r.events(), "assistant"), ["out", "tail"])
      assert.deepStrictEqual(texts(r.events(), "system"), ["err"])
      assert.deepStrictEqual(statuses(r.events()), ["running::", "exited:exit_code:3"])

      const missing = yield* Effect.flip(supervised.start(supervisedSpec(["no-such-command-here"], recorder(), stateDir())))
      assert.include(missing.reason, "command not found (ENOENT)")
    }), { timeout: 10_000 })

  it.scopedLive("interrupt reaches the process group; stop takes down the whole tree", () =>
    Effect.gen(function*() {
      const r = recorder()
      const plain = yield* supervised.start(supervisedSpec(["sleep", "1000"], r, stateDir()))
      yield* Effect.sleep("100 millis")
      yield* plain.interrupt
      assert.deepStrictEqual(yield* plain.exited, { exitCode: null })
      assert.deepStrictEqual(statuses(r.events()), ["running::", "exited:signal: SIGINT:"])

      const r2 = recorder()
      const dir = stateDir()
      const tree = yield* supervised.start(supervisedSpec(["sh", "-c", "sleep 1000 & sleep 1000"], r2, dir))
      const pgid = Number(readFileSync(join(dir, "pgid"), "utf8"))
      yield* eventually("supervisor, sh and both sleeps", () => (runningGroupMembers(pgid).length >= 4 ? true : undefined))
      yield* tree.stop
      yield* eventually("the group gone", () => (runningGroupMembers(pgid).length === 0 ? true : undefined))
      assert.deepStrictEqual(statuses(r2.events()).at(-1), "exited:stopped:")
    }), { timeout: 10_000 })

  it.live("a runner crash mid-stream: the command keeps running; reattach continues after the last recorded line, every line once", () =>
    Effect.gen(function*() {
      const dir = stateDir()
      const script = "i=1; while [ $i -le 120 ]; do echo line $i; [ $((i % 10)) -eq 0 ] && echo progress $i >&2; i=$((i+1)); sleep 0.005; done; read x; echo got $x; exit 4"
      // The first runner records 37 messages, then dies (its emit never returns again).
      const first = recorder(37)
      const firstScope = yield* Scope.make()
      yield* supervised.start(supervisedSpec(["sh", "-c", script], first, dir)).pipe(Scope.extend(firstScope))
      yield* eventually("the first runner's last record", () => (texts(first.events()).length === 37 ? true : undefined))
      const pgid = Number(readFileSync(join(dir, "pgid"), "utf8"))
      yield* Effect.sleep("200 millis")
      assert.isTrue(isRunning(pgid), "the supervisor outlives the runner")

      const second = recorder()
      const secondScope = yield* Scope.make()
      const checkpoint = first.recorded.at(-1)!.checkpoint
      const resumed = yield* supervised.reattach!(supervisedSpec(["sh", "-c", script], second, dir), { checkpoint }).pipe(
        Scope.extend(secondScope)
      )
      yield* second.waitFor("the last line", (e) => e.type === "message" && e.text === "line 120")
      yield* resumed.send("hello")
      assert.deepStrictEqual(yield* resumed.exited, { exitCode: 4 })

      const all = [...first.events(), ...second.events()]
      assert.deepStrictEqual(texts(all, "assistant"), [...Array.from({ length: 120 }, (_, i) => `line ${i + 1}`), "got hello"])
      assert.deepStrictEqual(texts(all, "system"), Array.from({ length: 12 }, (_, i) => `progress ${(i + 1) * 10}`))
      assert.deepStrictEqual(statuses(all), ["running::", "exited:exit_code:4"])
      const ids = all.flatMap((e) => (e.type === "message" ? [e.messageId] : []))
      assert.strictEqual(new Set(ids).size, ids.length, "message ids stay unique across the restart")
      yield* Scope.close(secondScope, Exit.void)
      yield* Scope.close(firstScope, Exit.void)
    }), { timeout: 20_000 })

  it.live("reattach without a supervisor to attach to fails with a clear reason", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.scoped(supervised.reattach!(supervisedSpec(["cat"], recorder(), stateDir()), { checkpoint: null }))
      )
      assert.include(error.reason, "never recorded its process group")
    }))
})

describe("SpoolLines", () => {
  it("tracks byte offsets, strips CRLF, cuts long lines at character boundaries, flushes the rest", () => {
    const s = new SpoolLines(0, 4)
    assert.deepStrictEqual(s.push(Buffer.from("ab")), [])
    assert.deepStrictEqual(s.push(Buffer.from("c\r\nd")), [{ text: "abc", end: 5 }])
    assert.deepStrictEqual(s.push(Buffer.from("efghij\nk")), [{ text: "defg", end: 9 }, { text: "hij", end: 13 }])
    assert.deepStrictEqual(s.push(Buffer.from("éé\n")), [{ text: "ké", end: 16 }, { text: "é", end: 19 }])
    assert.deepStrictEqual(s.flush(), [])
    assert.deepStrictEqual(s.push(Buffer.from("xy")), [])
    assert.deepStrictEqual(s.flush(), [{ text: "xy", end: 21 }])
  })

  it("a line of exactly max bytes ending in CRLF is one line, wherever a read ends (the CR alone does not count yet)", () => {
    const bytes = Buffer.from("\n        \r\n")
    for (const size of [1, 2, 3, 11]) {
      const s = new SpoolLines(0, 8)
      const lines = []
      for (let at = 0; at < bytes.length; at += size) lines.push(...s.push(bytes.subarray(at, at + size)))
      assert.deepStrictEqual([...lines, ...s.flush()], [{ text: "", end: 1 }, { text: "        ", end: 11 }], `reads of ${size}`)
    }
  })

  it.prop(
    "restarting at any recorded offset yields exactly the remaining lines",
    [fc.array(fc.oneof(fc.constantFrom("\n", "\r\n", "é", "€"), fc.string({ maxLength: 12 })), { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }), fc.nat()],
    ([pieces, chunkSizes, crashSeed]) => {
      const bytes = Buffer.from(pieces.join(""))
      const readAll = (start: number) => {
        const s = new SpoolLines(start, 8)
        const lines = []
        let at = start
        for (let i = 0; at < bytes.length; i++) {
          const size = chunkSizes[i % chunkSizes.length]!
          lines.push(...s.push(bytes.subarray(at, at + size)))
          at += size
        }
        return [...lines, ...s.flush()]
      }
      const whole = readAll(0)
      assert.strictEqual(whole.map((l) => l.text).join(""), bytes.toString("utf8").replace(/\r?\n/g, ""))
      const crash = whole.length === 0 ? -1 : crashSeed % whole.length
      const resumedAt = crash === -1 ? 0 : whole[crash]!.end
      assert.deepStrictEqual(readAll(resumedAt), whole.slice(crash + 1))
    }
  )
})
