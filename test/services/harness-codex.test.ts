/**
 * The `codex` harness with the real `codex app-server` (from the npm
 * package), pointed at the fake model server with `--base-url` and a dummy
 * OPENAI_API_KEY in a scratch CODEX_HOME: a command that needs approval
 * (it copies a file, then reads the copy), allowed by a client, whose output
 * reaches the model before it answers; a second turn whose command a client
 * denies with a note (the command never runs, the model is told the note);
 * an interrupt mid-stream, and one while an approval is pending (cancelled,
 * never run); resume by thread id; an app-server that dies (the session
 * fails); argument errors; and a stop that leaves no process behind.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
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

describe("codex harness (app-server)", () => {
  it.effect("declares approvals among its capabilities and is ready with an API key", () =>
    Effect.gen(function*() {
      assert.sameMembers([...harness.capabilities], ["streaming", "interrupt", "approvals", "resume"])
      const readiness = yield* harness.readiness
      assert.isTrue(readiness.ready, readiness.detail ?? "")
      assert.include(readiness.detail, "OPENAI_API_KEY")
    }))

  it.scopedLive("command → approval → allowed → result → answer; a denied command never runs; stop leaves no process", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const copy = join(workspace.dir, "seen.txt")
      server.script(
        { kind: "tool_call", name: "exec_command", arguments: { cmd: "cp notes.txt seen.txt && cat seen.txt", workdir: workspace.dir } },
        { kind: "text", text: "The secret word is marmalade." }
      )
      const session = yield* harness.start(startSpec(workspace, args(), c.emit, { prompt: "What is in notes.txt?" }))
      const request = yield* c.waitFor("the approval request", (e) => e.type === "approval_request", "60 seconds")
      assert.isTrue(request.type === "approval_request")
      if (request.type !== "approval_request") return
      assert.strictEqual(request.tool, "command")
      assert.include(JSON.stringify(request.input), "cp notes.txt seen.txt")
      assert.include(statusTrail(c.events), "waiting_approval:")
      assert.isFalse(existsSync(copy), "the command ran before it was approved")
      yield* session.resolveApproval(request.requestId, "allow", null)
      yield* c.waitFor("the turn to end", (e) => e.type === "status" && e.status === "idle", "60 seconds")

      assert.isTrue(existsSync(copy), "the approved command did not run")
      const call = c.events.find(isType("tool_call"))
      assert.strictEqual(call?.name, "command")
      const result = c.events.find(isType("tool_result"))
      assert.strictEqual(result?.callId, call?.callId)
      assert.include(JSON.stringify(result?.output), "marmalade")
      assert.isFalse(result?.isError)
      assert.include(c.texts("assistant"), "The secret word is marmalade.")
      const final = c.events.find((e) => e.type === "message" && e.text === "The secret word is marmalade.")
      const deltas = c.events.filter((e) => e.type === "message_delta" && final?.type === "message" && e.messageId === final.messageId)
      assert.isAbove(deltas.length, 0, "the answer streamed as deltas")
      const thread = c.events.find(isType("agent_session"))
      assert.isAbove(thread?.agentSessionId.length ?? 0, 8)
      assert.isAbove(c.events.find(isType("usage"))?.inputTokens ?? 0, 0)
      // The command's output went back to the model.
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "marmalade"))
      assert.strictEqual(server.requests.at(-1)?.headers["authorization"], "Bearer sk-test-dummy")

      // A denied command does not run, and the model hears the client's note.
      const marker = join(workspace.dir, "denied.txt")
      server.script(
        { kind: "tool_call", name: "exec_command", arguments: { cmd: "touch denied.txt", workdir: workspace.dir } },
        { kind: "text", text: "Fine, I left it alone." }
      )
      const before = c.events.length
      yield* session.send("make a marker file")
      const second = yield* eventually(
        "the second approval request",
        () => c.events.slice(before).find(isType("approval_request")),
        "60 seconds"
      )
      assert.include(JSON.stringify(second.input), "touch denied.txt")
      yield* session.resolveApproval(second.requestId, "deny", "no marker files please")
      yield* eventually("the second turn", () => (idleCount(c.events) >= 2 ? true : undefined), "60 seconds")
      assert.isFalse(existsSync(marker), "the denied command ran")
      const denied = c.events.slice(before).find(isType("tool_result"))
      assert.isTrue(denied?.isError)
      assert.include(c.texts("assistant"), "Fine, I left it alone.")
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "no marker files please"), "the note reached the model")
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "What is in notes.txt?"), "the thread keeps its history")

      const unknown = yield* Effect.flip(session.resolveApproval("apr_x", "allow", null))
      assert.include(unknown.reason, "no approval apr_x is pending")
      yield* session.stop
      assert.deepStrictEqual(statusTrail(c.events).at(-1), "exited:stopped")
      assert.deepStrictEqual(liveDescendants(), [], "processes survived stop")
    }), { timeout: 180_000 })

  it.scopedLive("interrupt aborts a slow turn promptly; the thread takes the next message", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const abortedBefore = server.aborted
      server.script({ kind: "text", text: "a slow answer that never finishes", chunks: 40, delayMs: 250 })
      const session = yield* harness.start(startSpec(workspace, args(), c.emit, { prompt: "talk slowly" }))
      yield* c.waitFor("the answer streaming", (e) => e.type === "message_delta", "60 seconds")
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

  it.scopedLive("an interrupt while an approval is pending cancels it: the command never runs, the thread goes on", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const marker = join(workspace.dir, "pending.txt")
      server.script({ kind: "tool_call", name: "exec_command", arguments: { cmd: "touch pending.txt", workdir: workspace.dir } })
      const session = yield* harness.start(startSpec(workspace, args(), c.emit, { prompt: "make a file" }))
      const request = yield* c.waitFor("the approval request", (e) => e.type === "approval_request", "60 seconds")
      const requestId = request.type === "approval_request" ? request.requestId : ""
      const started = Date.now()
      yield* session.interrupt
      yield* c.waitFor("idle after the interrupt", (e) => e.type === "status" && e.status === "idle", "10 seconds")
      assert.isBelow(Date.now() - started, 3_000)
      assert.include(statusTrail(c.events), "idle:interrupted")
      assert.isFalse(existsSync(marker), "the cancelled command ran")
      const late = yield* Effect.flip(session.resolveApproval(requestId, "allow", null))
      assert.include(late.reason, "is pending")

      server.script({ kind: "text", text: "still here" })
      yield* session.send("never mind")
      yield* c.waitFor("the next answer", (e) => e.type === "message" && e.text === "still here", "60 seconds")
      assert.isFalse(existsSync(marker), "the cancelled command ran later")
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
      assert.isUndefined(second.events.find(isType("agent_session")), "a resumed thread keeps its id")
      yield* two.stop
      assert.deepStrictEqual(liveDescendants(), [])
    }), { timeout: 120_000 })

  it.scopedLive("an app-server that dies by itself fails the session", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const session = yield* harness.start(startSpec(workspace, args(), c.emit))
      yield* c.waitFor("idle", (e) => e.type === "status" && e.status === "idle", "60 seconds")
      const agents = liveDescendants()
      assert.isNotEmpty(agents)
      // A descendant may exit between the listing and the kill (ESRCH): at least one must have been killed.
      let killed = 0
      for (const pid of agents) {
        try {
          process.kill(pid, "SIGKILL")
          killed++
        } catch (error) {
          if (!(error instanceof Error && "code" in error && error.code === "ESRCH")) throw error
        }
      }
      assert.isAbove(killed, 0)
      const failed = yield* c.waitFor("the session to fail", (e) => e.type === "status" && e.status === "failed", "10 seconds")
      assert.include(failed.type === "status" ? failed.reason : "", "agent_exited")
      const refused = yield* Effect.flip(session.send("hello?"))
      assert.include(refused.reason, "has ended")
      yield* session.stop
      assert.deepStrictEqual(statusTrail(c.events).filter((s) => s.startsWith("failed") || s.startsWith("exited")).length, 1)
    }), { timeout: 120_000 })

  it.scopedLive("bad arguments fail start before anything runs", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const sandbox = yield* Effect.flip(harness.start(startSpec(workspace, ["--sandbox", "none"], c.emit)))
      assert.include(sandbox.reason, "--sandbox must be one of")
      const policy = yield* Effect.flip(harness.start(startSpec(workspace, ["--approval-policy", "sometimes"], c.emit)))
      assert.include(policy.reason, "--approval-policy must be one of")
      const stray = yield* Effect.flip(harness.start(startSpec(workspace, ["hello"], c.emit)))
      assert.include(stray.reason, "unexpected argument")
      assert.deepStrictEqual(c.events, [])
    }))
})
