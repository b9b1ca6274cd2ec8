/**
 * The `pi` harness with the real pi coding agent in RPC mode against the
 * fake model server (its endpoint registered through the session's own pi
 * extension; a scratch PI_CODING_AGENT_DIR, PI_OFFLINE): a turn that reads a
 * file with pi's `read` tool and answers, over Anthropic Messages, OpenAI
 * Responses and Chat Completions; a second message on the same session; an
 * interrupt mid-stream; resume by session id; argument errors; and a stop
 * that leaves no process behind.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { join } from "node:path"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { makePiHarness } from "../../src/services/harness/pi.js"
import { bodyMentions, liveDescendants, makeWorkspace, startSpec, statusTrail, type Workspace } from "../support/fake-model-server/agent-fixture.js"
import { type FakeModelServer, startFakeModelServer } from "../support/fake-model-server/index.js"
import { eventually, makeCollector } from "../runner/support/events.js"

const harness = makePiHarness({ stopGrace: "1 second" })
let server: FakeModelServer
let workspace: Workspace
const saved: Record<string, string | undefined> = {}

beforeAll(async () => {
  server = await startFakeModelServer()
  workspace = makeWorkspace("pi")
  const env = {
    ANTHROPIC_API_KEY: "sk-ant-test-dummy",
    OPENAI_API_KEY: "sk-test-dummy",
    PI_CODING_AGENT_DIR: join(workspace.home, "agent"),
    PI_OFFLINE: "1"
  }
  for (const [name, value] of Object.entries(env)) {
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

const anthropicArgs = () => ["--base-url", server.url, "--provider", "anthropic", "--model", "fake-model"]
const isType = <T extends SessionEvent["type"]>(type: T) => (e: SessionEvent): e is Extract<SessionEvent, { type: T }> => e.type === type
const idleCount = (events: ReadonlyArray<SessionEvent>) => statusTrail(events).filter((s) => s.startsWith("idle")).length

describe("pi harness", () => {
  it.effect("declares its capabilities and is ready with an API key", () =>
    Effect.gen(function*() {
      assert.sameMembers([...harness.capabilities], ["streaming", "interrupt", "resume"])
      const readiness = yield* harness.readiness
      assert.isTrue(readiness.ready, readiness.detail ?? "")
      assert.include(readiness.detail, "ANTHROPIC_API_KEY")
    }))

  const variants = [
    { name: "anthropic-messages", path: "/v1/messages", args: () => anthropicArgs() },
    {
      name: "openai-responses",
      path: "/v1/responses",
      args: () => ["--base-url", `${server.url}/v1`, "--provider", "openai", "--model", "gpt-fake"]
    },
    {
      name: "openai-completions",
      path: "/v1/chat/completions",
      args: () => ["--base-url", `${server.url}/v1`, "--api", "openai-completions", "--model", "gpt-fake"]
    }
  ]
  for (const variant of variants) {
    it.scopedLive(`${variant.name}: prompt → read → result → streamed answer; then stop leaves no process`, () =>
      Effect.gen(function*() {
        const c = makeCollector()
        const before = server.requests.length
        server.script(
          { kind: "tool_call", name: "read", arguments: { path: "notes.txt" } },
          { kind: "text", text: "The secret word is marmalade.", chunks: 3 }
        )
        const session = yield* harness.start(startSpec(workspace, variant.args(), c.emit, { prompt: "What is in notes.txt?" }))
        yield* c.waitFor("the turn to end", (e) => e.type === "status" && e.status === "idle", "30 seconds")
        const call = c.events.find(isType("tool_call"))
        assert.deepStrictEqual([call?.name, call?.input], ["read", { path: "notes.txt" }])
        const result = c.events.find(isType("tool_result"))
        assert.strictEqual(result?.callId, call?.callId)
        assert.include(String(result?.output), "marmalade")
        const final = c.events.filter(isType("message")).at(-1)
        assert.strictEqual(final?.text, "The secret word is marmalade.")
        const deltas = c.events.filter(isType("message_delta")).filter((d) => d.messageId === final?.messageId)
        assert.strictEqual(deltas.map((d) => d.text).join(""), final?.text)
        assert.isAbove(c.events.find(isType("usage"))?.inputTokens ?? 0, 0)
        assert.isTrue(server.requests.slice(before).every((r) => r.path === variant.path), JSON.stringify(server.requests.slice(before).map((r) => r.path)))
        assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "marmalade"))
        yield* eventually("the session id", () => c.events.find(isType("agent_session")))

        yield* session.stop
        assert.deepStrictEqual(statusTrail(c.events).at(-1), "exited:stopped")
        assert.deepStrictEqual(liveDescendants(), [], "processes survived stop")
      }), { timeout: 60_000 })
  }

  it.scopedLive("a second message, an interrupt mid-stream, then resume by session id", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      server.script({ kind: "text", text: "Noted: kumquat." })
      const session = yield* harness.start(startSpec(workspace, anthropicArgs(), c.emit, { prompt: "remember kumquat" }))
      yield* c.waitFor("idle", (e) => e.type === "status" && e.status === "idle", "30 seconds")

      const abortedBefore = server.aborted
      server.script({ kind: "text", text: "slowly, very slowly, never ending", chunks: 40, delayMs: 250 })
      yield* session.send("talk slowly")
      yield* c.waitFor("a delta of the slow answer", (e) => e.type === "message_delta" && e.text.startsWith("s"), "30 seconds")
      const started = Date.now()
      yield* session.interrupt
      yield* eventually("idle after the interrupt", () => (idleCount(c.events) >= 2 ? true : undefined), "10 seconds")
      assert.isBelow(Date.now() - started, 3_000)
      assert.include(statusTrail(c.events), "idle:interrupted")
      yield* eventually("the request aborted", () => (server.aborted > abortedBefore ? true : undefined))

      const id = yield* eventually("the session id", () => c.events.find(isType("agent_session")))
      yield* session.stop

      const resumed = makeCollector()
      const again = yield* harness.start(startSpec(workspace, anthropicArgs(), resumed.emit, { resumeId: id.agentSessionId }))
      server.script({ kind: "text", text: "You said kumquat." })
      yield* again.send("what did I say?")
      yield* resumed.waitFor("the answer", (e) => e.type === "message" && e.text === "You said kumquat.", "30 seconds")
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "remember kumquat"))
      assert.isTrue(bodyMentions(server.requests.at(-1)?.body, "Noted: kumquat."))
      yield* again.stop
      assert.deepStrictEqual(liveDescendants(), [])
    }), { timeout: 90_000 })

  it.scopedLive("bad arguments fail start", () =>
    Effect.gen(function*() {
      const c = makeCollector()
      const api = yield* Effect.flip(harness.start(startSpec(workspace, ["--api", "grpc"], c.emit)))
      assert.include(api.reason, "--api must be one of")
      const noModel = yield* Effect.flip(harness.start(startSpec(workspace, ["--base-url", server.url], c.emit)))
      assert.include(noModel.reason, "--model is required")
      assert.deepStrictEqual(c.events, [])
    }))
})
