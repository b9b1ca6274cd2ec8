import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { tmpdir } from "node:os"
import type { RunnerCommand } from "../../src/domain/rpc/tunnel.js"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { EventOutbox } from "../../src/runner/EventOutbox.js"
import { SessionManager } from "../../src/runner/SessionManager.js"
import { type Harness, HarnessError } from "../../src/services/harness/Harness.js"
import { HarnessRegistry } from "../../src/services/harness/HarnessRegistry.js"
import { makeShellHarness } from "../../src/services/harness/shell.js"
import { eventually } from "./support/events.js"
import { memoryTerminals } from "./support/terminal.js"

const notReady: Harness = {
  name: "agent",
  capabilities: ["approvals"],
  readiness: Effect.succeed({ ready: false, detail: "agent CLI not found on PATH" }),
  start: () => Effect.fail(new HarnessError({ harness: "agent", reason: "unreachable" }))
}

const TestLayer = SessionManager.DefaultWithoutDependencies.pipe(
  Layer.provideMerge(EventOutbox.Default),
  Layer.provideMerge(memoryTerminals().layer),
  Layer.provideMerge(HarnessRegistry.layerFor([makeShellHarness({ stopGrace: "500 millis", drainTimeout: "100 millis" }), notReady]))
)

let seq = 0
const start = (sessionId: string, harness: string, args: ReadonlyArray<string>, lastRseq = 0): RunnerCommand => ({
  type: "start_session",
  commandSeq: ++seq,
  sessionId,
  harness,
  cwd: tmpdir(),
  args,
  prompt: null,
  lastRseq
})

/** What the outbox holds for a session (nothing is acknowledged in these tests). */
const eventsIn = (outbox: EventOutbox, sessionId: string) =>
  Effect.map(outbox.batches(10_000), (batches) => batches.find((b) => b.sessionId === sessionId)?.events ?? [])

const outboxEvents = (sessionId: string) => Effect.flatMap(EventOutbox, (outbox) => eventsIn(outbox, sessionId))

const waitEvents = (sessionId: string, what: string, done: (events: ReadonlyArray<SessionEvent>) => boolean) =>
  Effect.flatMap(EventOutbox, (outbox) =>
    eventually(what, () => {
      const events = Effect.runSync(eventsIn(outbox, sessionId)).map((e) => e.event)
      return done(events) ? events : undefined
    }))

describe("SessionManager", () => {
  it.scopedLive("an unknown or unready harness, or a command that cannot start, fails the session with a clear reason", () =>
    Effect.gen(function*() {
      const manager = yield* SessionManager
      yield* manager.dispatch(start("u", "codex", []))
      yield* manager.dispatch(start("r", "agent", []))
      yield* manager.dispatch(start("e", "shell", ["tether-no-such-command-xyz"], 7))
      const reason = (events: ReadonlyArray<SessionEvent>) => {
        const e = events[0]
        return e?.type === "status" && e.status === "failed" ? e.reason : null
      }
      assert.strictEqual(
        reason(yield* waitEvents("u", "u failed", (e) => e.length > 0)),
        "harness_error: no harness \"codex\" on this host (it offers: shell, agent)"
      )
      assert.strictEqual(
        reason(yield* waitEvents("r", "r failed", (e) => e.length > 0)),
        "harness_error: agent is not ready on this host: agent CLI not found on PATH"
      )
      assert.strictEqual(
        reason(yield* waitEvents("e", "e failed", (e) => e.length > 0)),
        "harness_error: cannot start \"tether-no-such-command-xyz\": command not found (ENOENT)"
      )
      // the failed session's events continue after the server's lastRseq
      assert.deepStrictEqual((yield* outboxEvents("e")).map((e) => e.rseq), [8])
      assert.deepStrictEqual((yield* manager.list).map((s) => s.state), ["finished", "finished", "finished"])
    }).pipe(Effect.provide(TestLayer)), { timeout: 10_000 })

  it.scopedLive("input to a finished session is reported as an error event; commands for unknown sessions are ignored", () =>
    Effect.gen(function*() {
      const manager = yield* SessionManager
      yield* manager.dispatch(start("f", "shell", ["true"]))
      yield* waitEvents("f", "exit", (e) => e.some((x) => x.type === "status" && x.status === "exited"))
      yield* eventually("finished", () => (Effect.runSync(manager.list)[0]?.state === "finished" ? true : undefined))
      yield* manager.dispatch({ type: "send_input", commandSeq: ++seq, sessionId: "f", text: "hi" })
      yield* manager.dispatch({ type: "resolve_approval", commandSeq: ++seq, sessionId: "f", requestId: "r", decision: "allow", note: null })
      yield* manager.dispatch({ type: "interrupt", commandSeq: ++seq, sessionId: "f" })
      yield* manager.dispatch({ type: "stop", commandSeq: ++seq, sessionId: "f" })
      yield* manager.dispatch({ type: "send_input", commandSeq: ++seq, sessionId: "nobody", text: "hi" })
      const events = yield* waitEvents("f", "two errors", (e) => e.filter((x) => x.type === "error").length === 2)
      assert.deepStrictEqual(
        events.filter((x) => x.type === "error").map((x) => x.type === "error" ? [x.code, x.message] : []),
        [
          ["input_rejected", "the session has finished; send_input was not delivered"],
          ["input_rejected", "the session has finished; resolve_approval was not delivered"]
        ]
      )
      assert.deepStrictEqual((yield* outboxEvents("nobody")), [])
    }).pipe(Effect.provide(TestLayer)), { timeout: 10_000 })

  it.scopedLive("a running shell session rejects approvals with an error event", () =>
    Effect.gen(function*() {
      const manager = yield* SessionManager
      yield* manager.dispatch(start("a", "shell", ["cat"]))
      yield* manager.dispatch({ type: "resolve_approval", commandSeq: ++seq, sessionId: "a", requestId: "r1", decision: "deny", note: null })
      const events = yield* waitEvents("a", "error", (e) => e.some((x) => x.type === "error"))
      const error = events.find((x) => x.type === "error")
      assert.strictEqual(error?.type === "error" ? error.message : null, "the shell harness has no approvals to resolve")
      yield* manager.stopAll
      yield* waitEvents("a", "stopped", (e) => e.some((x) => x.type === "status" && x.status === "exited" && x.reason === "stopped"))
    }).pipe(Effect.provide(TestLayer)), { timeout: 10_000 })
})
