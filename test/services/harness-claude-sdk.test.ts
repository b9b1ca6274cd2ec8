/**
 * The `claude-sdk` harness with the real Claude Agent SDK and its real Claude
 * Code binary, pointed at the fake model server (ANTHROPIC_BASE_URL through
 * `--base-url`, a dummy ANTHROPIC_API_KEY, a scratch CLAUDE_CONFIG_DIR):
 * a turn that reads a file through Claude's Read tool, an approval denied
 * with a note that reaches the model, an approval allowed for the session,
 * an interrupt mid-stream, resume by session id, argument errors, and a stop
 * that leaves no process behind.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { existsSync } from "node:fs"
import { join } from "node:path"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { makeClaudeSdkHarness } from "../../src/services/harness/claude-sdk.js"
import { bodyMentions, liveDescendants, makeWorkspace, startSpec, statusTrail, type Workspace } from "../support/fake-model-server/agent-fixture.js"
import { type FakeModelServer, startFakeModelServer } from "../support/fake-model-server/index.js"
import { eventually, makeCollector } from "../runner/support/events.js"

const harness = makeClaudeSdkHarness({ stopGrace: "1 second" })
let server: FakeModelServer
let workspace: Workspace
const saved: Record<string, string | undefined> = {}

const setEnv = (values: Record<string, string>) => {
  for (const [name, value] of Object.entries(values)) {
    saved[name] = process.env[name]
    process.env[name] = value
  }
}

beforeAll(async () => {
  server = await startFakeModelServer()
  workspace = makeWorkspace("claude-sdk")
  setEnv({
    ANTHROPIC_API_KEY: "sk-ant-test-dummy",
    CLAUDE_CONFIG_DIR: workspace.home,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1"
  })
})

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  await server.close()
  workspace.cleanup()
})

const args = () => ["--base-url", server.url, "--model", "claude-fake"]
const isType = <T extends SessionEvent["type"]>(type: T) => (e: SessionEvent): e is Extract<SessionEvent, { type: T }> => e.type === type

describe("claude-sdk harness", () => {
  it.effect("declares its capabilities and is ready with an API key", () =>
    Effect.gen(function*() {
      assert.sameMembers([...harness.capabilities], ["streaming", "interrupt", "approvals", "resume"])
      const readiness = yield* harness.readiness
      assert.isTrue(readiness.ready, readiness.detail ?? "")
      assert.include(readiness.detail, "ANTHROPIC_API_KEY")
      assert.notInclude(readiness.detail, "sk-ant-test-dummy")
    }))

  it.scopedLive("prompt → Read tool → result → streamed answer, then a second turn, then stop leaves no process", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      server.script(
        { kind: "tool_call", name: "Read", arguments: { file_path: workspace.notesPath }, text: "Let me read it." },
        { kind: "text", text: "The secret word is marmalade.", chunks: 4 }
      )
      const session = yield* harness.start(startSpec(workspace, args(), c.emit, { prompt: "What is in notes.txt?" }))
      yield* c.waitFor("the turn to end", (e) => e.type === "status" && e.status === "idle", "30 seconds")

      const call = c.events.find(isType("tool_call"))
      assert.deepStrictEqual([call?.name, call?.input], ["Read", { file_path: workspace.notesPath }])
      const result = c.events.find(isType("tool_result"))
      assert.strictEqual(result?.callId, call?.callId)
      assert.isFalse(result?.isError)
      assert.include(String(result?.output), "marmalade")
      assert.deepStrictEqual(c.texts("assistant"), ["Let me read it.", "The secret word is marmalade."])
      const final = c.events.filter(isType("message")).at(-1)
      const deltas = c.events.filter(isType("message_delta")).filter((d) => d.messageId === final?.messageId)
      assert.strictEqual(deltas.map((d) => d.text).join(""), "The secret word is marmalade.")
      assert.isAbove(deltas.length, 1)
      const agentSession = c.events.find(isType("agent_session"))
      assert.match(agentSession?.agentSessionId ?? "", /^[0-9a-f-]{36}$/)
      const usage = c.events.find(isType("usage"))
      assert.isAbove(usage?.inputTokens ?? 0, 0)
      // The model really saw the file's content in the second request.
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "marmalade"))
      assert.deepStrictEqual(statusTrail(c.events), ["running:", "idle:"])
      // Order: the tool call before its result, the result before the answer.
      const index = (p: (e: SessionEvent) => boolean) => c.events.findIndex(p)
      assert.isBelow(index(isType("tool_call")), index(isType("tool_result")))
      assert.isBelow(index(isType("tool_result")), index((e) => e.type === "message" && e.text.startsWith("The secret")))

      server.script({ kind: "text", text: "Second answer." })
      yield* session.send("and again?")
      yield* c.waitFor("the second answer", (e) => e.type === "message" && e.text === "Second answer.", "20 seconds")
      yield* eventually("idle again", () => (statusTrail(c.events).length >= 4 ? true : undefined), "10 seconds")
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "and again?"))

      assert.isNotEmpty(liveDescendants(), "the agent process should be running")
      yield* session.stop
      assert.deepStrictEqual(yield* session.exited, { exitCode: null })
      assert.deepStrictEqual(statusTrail(c.events).at(-1), "exited:stopped")
      assert.deepStrictEqual(liveDescendants(), [], "processes survived stop")
      // Input after the end is refused.
      const late = yield* Effect.flip(session.send("too late"))
      assert.strictEqual(late._tag, "HarnessError")
    }), { timeout: 60_000 })

  it.scopedLive("a denied approval sends the client's note to the model; allow_session stops asking for that tool", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const target = join(workspace.dir, "created.txt")
      server.script(
        { kind: "tool_call", name: "Write", arguments: { file_path: target, content: "hello" } },
        { kind: "text", text: "Understood, I will not write it." }
      )
      const session = yield* harness.start(startSpec(workspace, args(), c.emit, { prompt: "create a file" }))
      const request = yield* c.waitFor("an approval request", (e) => e.type === "approval_request", "30 seconds")
      assert.strictEqual(request.type === "approval_request" ? request.tool : "", "Write")
      assert.deepStrictEqual(request.type === "approval_request" ? request.input : null, { file_path: target, content: "hello" })
      assert.include(statusTrail(c.events), "waiting_approval:")
      const requestId = request.type === "approval_request" ? request.requestId : ""
      yield* session.resolveApproval(requestId, "deny", "not in this directory, please")
      yield* c.waitFor("the answer", (e) => e.type === "message" && e.text.startsWith("Understood"), "20 seconds")
      assert.isFalse(existsSync(target))
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "not in this directory, please"))
      const result = c.events.find(isType("tool_result"))
      assert.isTrue(result?.isError)
      // Unknown or already answered requests are refused.
      const again = yield* Effect.flip(session.resolveApproval(requestId, "allow", null))
      assert.include(again.reason, "no approval")

      // allow_session: the first Write asks, the second does not.
      server.script(
        { kind: "tool_call", name: "Write", arguments: { file_path: target, content: "one" } },
        { kind: "tool_call", name: "Write", arguments: { file_path: target, content: "two" } },
        { kind: "text", text: "Both written." }
      )
      yield* session.send("write it twice")
      const second = yield* c.waitFor(
        "a second approval request",
        (e) => e.type === "approval_request" && e.requestId !== requestId,
        "20 seconds"
      )
      yield* session.resolveApproval(second.type === "approval_request" ? second.requestId : "", "allow_session", null)
      yield* c.waitFor("the last answer", (e) => e.type === "message" && e.text === "Both written.", "20 seconds")
      assert.strictEqual(c.events.filter(isType("approval_request")).length, 2)
      yield* eventually("the file written twice", () => (existsSync(target) ? true : undefined))
      yield* session.stop
    }), { timeout: 60_000 })

  it.scopedLive("interrupt stops a slow stream promptly and the session takes the next message", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const abortedBefore = server.aborted
      server.script({ kind: "text", text: "a very slow answer that should never finish streaming", chunks: 40, delayMs: 250 })
      const session = yield* harness.start(startSpec(workspace, args(), c.emit, { prompt: "talk slowly" }))
      yield* c.waitFor("the first delta", (e) => e.type === "message_delta", "30 seconds")
      const started = Date.now()
      yield* session.interrupt
      yield* c.waitFor("idle after the interrupt", (e) => e.type === "status" && e.status === "idle", "10 seconds")
      const took = Date.now() - started
      assert.isBelow(took, 3_000, `the interrupt took ${took} ms`)
      yield* eventually("the model request aborted", () => (server.aborted > abortedBefore ? true : undefined))
      assert.isBelow(c.events.filter(isType("message_delta")).length, 40)

      server.script({ kind: "text", text: "after the interrupt" })
      yield* session.send("go on")
      yield* c.waitFor("the next answer", (e) => e.type === "message" && e.text === "after the interrupt", "20 seconds")
      yield* session.stop
    }), { timeout: 60_000 })

  it.scopedLive("a session started with resumeId continues that conversation", () =>
    Effect.gen(function*() {
      const first = makeCollector()
      server.script({ kind: "text", text: "I will remember the word kumquat." })
      const one = yield* harness.start(startSpec(workspace, args(), first.emit, { prompt: "remember kumquat" }))
      const id = yield* first.waitFor("the agent session id", (e) => e.type === "agent_session", "30 seconds")
      yield* first.waitFor("idle", (e) => e.type === "status" && e.status === "idle", "20 seconds")
      yield* one.stop

      const agentSessionId = id.type === "agent_session" ? id.agentSessionId : ""
      const second = makeCollector()
      const two = yield* harness.start(startSpec(workspace, args(), second.emit, { resumeId: agentSessionId }))
      assert.deepStrictEqual(statusTrail(second.events), ["running:", "idle:"])
      server.script({ kind: "text", text: "You said kumquat." })
      yield* two.send("what did I say?")
      yield* second.waitFor("the answer", (e) => e.type === "message" && e.text === "You said kumquat.", "30 seconds")
      // The resumed conversation's request carries the earlier turn.
      const body = server.requests.at(-1)?.body
      assert.isTrue(bodyMentions(body, "remember kumquat"))
      assert.isTrue(bodyMentions(body, "I will remember the word kumquat."))
      yield* two.stop
    }), { timeout: 60_000 })

  it.live("closing the scope without stop (runner shutdown) ends the processes but leaves the session open", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      server.script({ kind: "text", text: "hello" })
      const scope = yield* Scope.make()
      const session = yield* harness.start(startSpec(workspace, args(), c.emit, { prompt: "hi" })).pipe(Scope.extend(scope))
      yield* c.waitFor("the answer", (e) => e.type === "message" && e.text === "hello", "30 seconds")
      assert.isNotEmpty(liveDescendants())
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(liveDescendants(), [], "processes survived the scope")
      assert.isFalse(statusTrail(c.events).some((s) => s.startsWith("exited") || s.startsWith("failed")), statusTrail(c.events).join(" "))
      // An explicit stop afterwards still ends it, once.
      yield* session.stop
      assert.deepStrictEqual(statusTrail(c.events).filter((s) => s.startsWith("exited")), ["exited:stopped"])
    }), { timeout: 60_000 })

  it.scopedLive("bad arguments and a missing directory fail start before anything runs", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const unknown = yield* Effect.flip(harness.start(startSpec(workspace, ["--modle", "x"], c.emit)))
      assert.include(unknown.reason, "unknown option --modle")
      const mode = yield* Effect.flip(harness.start(startSpec(workspace, ["--permission-mode", "yolo"], c.emit)))
      assert.include(mode.reason, "--permission-mode must be one of")
      const url = yield* Effect.flip(harness.start(startSpec(workspace, ["--base-url", "ftp://x"], c.emit)))
      assert.include(url.reason, "--base-url must be an http(s) URL")
      const dir = yield* Effect.flip(harness.start({ ...startSpec(workspace, args(), c.emit), cwd: "/nonexistent/tether" }))
      assert.include(dir.reason, "does not exist")
      assert.deepStrictEqual(c.events, [])
    }))
})
