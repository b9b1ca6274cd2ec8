/**
 * The `codex` harness with the real Codex SDK and the real `codex` binary
 * (from the npm package), pointed at the fake model server with
 * `--base-url` and a dummy OPENAI_API_KEY in a scratch CODEX_HOME: a turn
 * that runs a command reading a file, then answers; a second turn on the same
 * thread; an interrupt mid-stream; resume by thread id; argument errors; and
 * a stop that leaves no process behind. Codex has no approvals in this mode,
 * which the harness says (capabilities, resolveApproval fails).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { makeCodexHarness } from "../../src/services/harness/codex.js"
import { bodyMentions, liveDescendants, makeWorkspace, startSpec, statusTrail, type Workspace } from "../support/fake-model-server/agent-fixture.js"
import { type FakeModelServer, startFakeModelServer } from "../support/fake-model-server/index.js"
import { eventually, makeCollector } from "../runner/support/events.js"

const harness = makeCodexHarness({ stopGrace: "1 second" })
let server: FakeModelServer
let workspace: Workspace
const saved: Record<string, string | undefined> = {}

beforeAll(async () => {
  server = await startFakeModelServer()
  workspace = makeWorkspace("codex")
  for (const [name, value] of Object.entries({ OPENAI_API_KEY: "sk-test-dummy", CODEX_HOME: workspace.home })) {
    saved[name] = process.env[name]
    process.env[name] = value
  }
})

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  await server.close()
  workspace.cleanup()
})

const args = () => ["--base-url", `${server.url}/v1`, "--model", "gpt-fake", "--sandbox", "danger-full-access"]
const isType = <T extends SessionEvent["type"]>(type: T) => (e: SessionEvent): e is Extract<SessionEvent, { type: T }> => e.type === type
const idleCount = (events: ReadonlyArray<SessionEvent>) => statusTrail(events).filter((s) => s.startsWith("idle")).length

describe("codex harness", () => {
  it.effect("declares its capabilities (no approvals) and is ready with an API key", () =>
    Effect.gen(function*() {
      assert.sameMembers([...harness.capabilities], ["streaming", "interrupt", "resume"])
      const readiness = yield* harness.readiness
      assert.isTrue(readiness.ready, readiness.detail ?? "")
      assert.include(readiness.detail, "OPENAI_API_KEY")
    }))

  it.scopedLive("prompt → command reading a file → result → answer; a second turn on the thread; stop leaves no process", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      server.script(
        { kind: "tool_call", name: "exec_command", arguments: { cmd: "cat notes.txt", workdir: workspace.dir } },
        { kind: "text", text: "The secret word is marmalade." }
      )
      const session = yield* harness.start(startSpec(workspace, args(), c.emit, { prompt: "What is in notes.txt?" }))
      yield* c.waitFor("the turn to end", (e) => e.type === "status" && e.status === "idle", "60 seconds")

      const call = c.events.find(isType("tool_call"))
      assert.strictEqual(call?.name, "command")
      assert.include(JSON.stringify(call?.input), "cat notes.txt")
      const result = c.events.find(isType("tool_result"))
      assert.strictEqual(result?.callId, call?.callId)
      assert.include(JSON.stringify(result?.output), "marmalade")
      assert.isFalse(result?.isError)
      assert.include(c.texts("assistant"), "The secret word is marmalade.")
      const thread = c.events.find(isType("agent_session"))
      assert.isAbove(thread?.agentSessionId.length ?? 0, 8)
      assert.isAbove(c.events.find(isType("usage"))?.inputTokens ?? 0, 0)
      // The command's output went back to the model.
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "marmalade"))
      assert.strictEqual(server.requests.at(-1)?.headers["authorization"], "Bearer sk-test-dummy")

      server.script({ kind: "text", text: "Second answer." })
      yield* session.send("and again?")
      yield* eventually("the second turn", () => (idleCount(c.events) >= 2 ? true : undefined), "60 seconds")
      assert.include(c.texts("assistant"), "Second answer.")
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "What is in notes.txt?"), "the thread keeps its history")

      const approval = yield* Effect.flip(session.resolveApproval("apr_x", "allow", null))
      assert.include(approval.reason, "no approvals")
      yield* session.stop
      assert.deepStrictEqual(statusTrail(c.events).at(-1), "exited:stopped")
      assert.deepStrictEqual(liveDescendants(), [], "processes survived stop")
    }), { timeout: 120_000 })

  it.scopedLive("interrupt aborts a slow turn promptly; the thread takes the next message", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const abortedBefore = server.aborted
      server.script({ kind: "text", text: "a slow answer that never finishes", chunks: 40, delayMs: 250 })
      const session = yield* harness.start(startSpec(workspace, args(), c.emit, { prompt: "talk slowly" }))
      yield* eventually("the model request", () => (server.pending === 0 ? true : undefined), "60 seconds")
      yield* Effect.sleep("300 millis")
      const started = Date.now()
      yield* session.interrupt
      yield* c.waitFor("idle after the interrupt", (e) => e.type === "status" && e.status === "idle", "10 seconds")
      assert.isBelow(Date.now() - started, 3_000)
      assert.include(statusTrail(c.events), "idle:interrupted")
      yield* eventually("the model request aborted", () => (server.aborted > abortedBefore ? true : undefined))

      server.script({ kind: "text", text: "after the interrupt" })
      yield* session.send("go on")
      yield* c.waitFor("the next answer", (e) => e.type === "message" && e.text === "after the interrupt", "60 seconds")
      yield* session.stop
      assert.deepStrictEqual(liveDescendants(), [])
    }), { timeout: 120_000 })

  it.scopedLive("a session started with resumeId continues that thread", () =>
    Effect.gen(function*() {
      const first = makeCollector()
      server.script({ kind: "text", text: "Noted: kumquat." })
      const one = yield* harness.start(startSpec(workspace, args(), first.emit, { prompt: "remember kumquat" }))
      const id = yield* first.waitFor("the thread id", (e) => e.type === "agent_session", "60 seconds")
      yield* first.waitFor("idle", (e) => e.type === "status" && e.status === "idle", "60 seconds")
      yield* one.stop

      const threadId = id.type === "agent_session" ? id.agentSessionId : ""
      const second = makeCollector()
      const two = yield* harness.start(startSpec(workspace, args(), second.emit, { resumeId: threadId }))
      server.script({ kind: "text", text: "You said kumquat." })
      yield* two.send("what did I say?")
      yield* second.waitFor("the answer", (e) => e.type === "message" && e.text === "You said kumquat.", "60 seconds")
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "remember kumquat"))
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "Noted: kumquat."))
      yield* two.stop
    }), { timeout: 120_000 })

  it.scopedLive("bad arguments fail start before anything runs", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const sandbox = yield* Effect.flip(harness.start(startSpec(workspace, ["--sandbox", "none"], c.emit)))
      assert.include(sandbox.reason, "--sandbox must be one of")
      const stray = yield* Effect.flip(harness.start(startSpec(workspace, ["hello"], c.emit)))
      assert.include(stray.reason, "unexpected argument")
      assert.deepStrictEqual(c.events, [])
    }))
})
