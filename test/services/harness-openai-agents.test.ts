/**
 * The `openai-agents` harness with the real Agents SDK against the fake
 * model server, over both the Responses API and Chat Completions: a turn
 * that reads a file with `read_file`, then answers (streamed); a second turn
 * that remembers the first; `run_command` denied with a note that reaches the
 * model, then allowed for the session; an interrupt mid-stream; argument and
 * credential errors; and a stop that kills a command still running.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { makeOpenAiAgentsHarness } from "../../src/services/harness/openai-agents.js"
import { bodyMentions, liveDescendants, makeWorkspace, startSpec, statusTrail, type Workspace } from "../support/fake-model-server/agent-fixture.js"
import { type FakeModelServer, startFakeModelServer } from "../support/fake-model-server/index.js"
import { eventually, makeCollector } from "../runner/support/events.js"

const harness = makeOpenAiAgentsHarness({ stopGrace: "1 second" })
let server: FakeModelServer
let workspace: Workspace
let savedKey: string | undefined

beforeAll(async () => {
  server = await startFakeModelServer()
  workspace = makeWorkspace("openai-agents")
  savedKey = process.env["OPENAI_API_KEY"]
  process.env["OPENAI_API_KEY"] = "sk-test-dummy"
})

afterAll(async () => {
  if (savedKey === undefined) delete process.env["OPENAI_API_KEY"]
  else process.env["OPENAI_API_KEY"] = savedKey
  await server.close()
  workspace.cleanup()
})

const isType = <T extends SessionEvent["type"]>(type: T) => (e: SessionEvent): e is Extract<SessionEvent, { type: T }> => e.type === type
const idleCount = (events: ReadonlyArray<SessionEvent>) => statusTrail(events).filter((s) => s.startsWith("idle")).length

describe("openai-agents harness", () => {
  it.effect("declares its capabilities and is ready with an API key", () =>
    Effect.gen(function*() {
      assert.sameMembers([...harness.capabilities], ["streaming", "interrupt", "approvals"])
      // The SDK adds SIGTERM/SIGINT handlers that exit the process on import; the harness removes them
      // (otherwise a runner would exit before stopping its sessions' processes).
      const hooks = () => ["SIGTERM", "SIGINT", "unhandledRejection", "beforeExit"].map((e) => process.listenerCount(e))
      const before = hooks()
      const readiness = yield* harness.readiness
      assert.deepStrictEqual(hooks(), before)
      assert.isTrue(readiness.ready, readiness.detail ?? "")
      assert.include(readiness.detail, "OPENAI_API_KEY")
    }))

  for (const api of ["responses", "chat"] as const) {
    it.scopedLive(`${api}: prompt → read_file → result → streamed answer; the next turn has the history`, () =>
      Effect.gen(function*() {
        const c = makeCollector()
        const path = api === "chat" ? "/v1/chat/completions" : "/v1/responses"
        const before = server.requests.length
        server.script(
          { kind: "tool_call", name: "read_file", arguments: { path: "notes.txt" } },
          { kind: "text", text: "The secret word is marmalade.", chunks: 3 }
        )
        const args = ["--base-url", `${server.url}/v1`, "--model", "gpt-fake", "--api", api]
        const session = yield* harness.start(startSpec(workspace, args, c.emit, { prompt: "What is in notes.txt?" }))
        yield* c.waitFor("the turn to end", (e) => e.type === "status" && e.status === "idle", "30 seconds")
        const call = c.events.find(isType("tool_call"))
        assert.deepStrictEqual([call?.name, call?.input], ["read_file", { path: "notes.txt" }])
        const result = c.events.find(isType("tool_result"))
        assert.strictEqual(result?.callId, call?.callId)
        assert.strictEqual(result?.output, workspace.notes)
        const final = c.events.filter(isType("message")).at(-1)
        assert.strictEqual(final?.text, "The secret word is marmalade.")
        const deltas = c.events.filter(isType("message_delta")).filter((d) => d.messageId === final?.messageId)
        assert.strictEqual(deltas.map((d) => d.text).join(""), final?.text)
        assert.isAbove(c.events.find(isType("usage"))?.inputTokens ?? 0, 0)
        assert.isTrue(server.requests.slice(before).every((r) => r.path === path))
        assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "marmalade"))

        server.script({ kind: "text", text: "Again." })
        yield* session.send("once more")
        yield* eventually("the second turn", () => (idleCount(c.events) >= 2 ? true : undefined), "30 seconds")
        assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "What is in notes.txt?"))
        yield* session.stop
        assert.deepStrictEqual(statusTrail(c.events).at(-1), "exited:stopped")
      }), { timeout: 60_000 })
  }

  it.scopedLive("run_command: denied with a note the model sees, then allowed for the session", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const marker = join(workspace.dir, "made-by-command")
      server.script(
        { kind: "tool_call", name: "run_command", arguments: { command: `touch ${marker}` } },
        { kind: "text", text: "OK, not running it." }
      )
      const args = ["--base-url", `${server.url}/v1`, "--model", "gpt-fake"]
      const session = yield* harness.start(startSpec(workspace, args, c.emit, { prompt: "make the marker" }))
      const request = yield* c.waitFor("an approval request", (e) => e.type === "approval_request", "30 seconds")
      assert.strictEqual(request.type === "approval_request" ? request.tool : "", "run_command")
      assert.deepStrictEqual(request.type === "approval_request" ? request.input : null, { command: `touch ${marker}` })
      assert.include(statusTrail(c.events), "waiting_approval:")
      yield* session.resolveApproval(request.type === "approval_request" ? request.requestId : "", "deny", "no commands today")
      yield* c.waitFor("the answer", (e) => e.type === "message" && e.text === "OK, not running it.", "30 seconds")
      assert.isFalse(existsSync(marker))
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "no commands today"))
      assert.isTrue(c.events.find(isType("tool_result"))?.isError)

      server.script(
        { kind: "tool_call", name: "run_command", arguments: { command: `touch ${marker}` } },
        { kind: "tool_call", name: "run_command", arguments: { command: "echo second" } },
        { kind: "text", text: "Done twice." }
      )
      yield* session.send("now do it")
      const second = yield* c.waitFor(
        "the second request",
        (e) => e.type === "approval_request" && e.requestId !== (request.type === "approval_request" ? request.requestId : ""),
        "30 seconds"
      )
      yield* session.resolveApproval(second.type === "approval_request" ? second.requestId : "", "allow_session", null)
      yield* c.waitFor("the last answer", (e) => e.type === "message" && e.text === "Done twice.", "30 seconds")
      assert.isTrue(existsSync(marker))
      assert.strictEqual(c.events.filter(isType("approval_request")).length, 2)
      assert.isTrue(c.events.some((e) => e.type === "tool_result" && String(e.output).includes("second")))
      yield* session.stop
    }), { timeout: 60_000 })

  it.scopedLive("interrupt stops a slow stream; stop kills a command still running", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const abortedBefore = server.aborted
      server.script({ kind: "text", text: "slowly, very slowly, this will never end", chunks: 40, delayMs: 250 })
      const args = ["--base-url", `${server.url}/v1`, "--model", "gpt-fake"]
      const session = yield* harness.start(startSpec(workspace, args, c.emit, { prompt: "talk slowly" }))
      yield* c.waitFor("the first delta", (e) => e.type === "message_delta", "30 seconds")
      const started = Date.now()
      yield* session.interrupt
      yield* c.waitFor("idle", (e) => e.type === "status" && e.status === "idle", "10 seconds")
      assert.isBelow(Date.now() - started, 2_000)
      assert.include(statusTrail(c.events), "idle:interrupted")
      yield* eventually("the request aborted", () => (server.aborted > abortedBefore ? true : undefined))

      // A long command, allowed, then the session is stopped under it.
      server.script({ kind: "tool_call", name: "run_command", arguments: { command: "sleep 300 & sleep 300" } })
      yield* session.send("sleep")
      const request = yield* c.waitFor("approval", (e) => e.type === "approval_request", "30 seconds")
      yield* session.resolveApproval(request.type === "approval_request" ? request.requestId : "", "allow", null)
      yield* eventually("the sleeps", () => (liveDescendants().length >= 2 ? true : undefined))
      yield* session.stop
      assert.deepStrictEqual(liveDescendants(), [], "commands survived stop")
      assert.deepStrictEqual(statusTrail(c.events).at(-1), "exited:stopped")
    }), { timeout: 60_000 })

  it.scopedLive("bad arguments fail start", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const api = yield* Effect.flip(harness.start(startSpec(workspace, ["--api", "soap"], c.emit)))
      assert.include(api.reason, "--api must be one of")
      const missing = yield* Effect.flip(harness.start(startSpec(workspace, ["--model"], c.emit)))
      assert.include(missing.reason, "--model needs a value")
      assert.deepStrictEqual(c.events, [])
    }))
})
