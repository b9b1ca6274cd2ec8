/**
 * The `claude-native` harness with the real Claude Code CLI
 * (@anthropic-ai/claude-code) in a real PTY, pointed at the fake model
 * server with `--tether-base-url`, a dummy key and a scratch HOME /
 * CLAUDE_CONFIG_DIR: the first prompt and a message typed into the terminal
 * reach the model (model and prompt checked in the recorded requests), the
 * scripted answers come back as `message` events read from Claude Code's
 * session JSONL (with `agent_session` and `usage`), and stop leaves no
 * process behind. Plus readiness and argument errors.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { makeClaudeNativeHarness } from "../../src/services/harness/claude-native.js"
import { findCli } from "../../src/services/harness/native/cli-binary.js"
import { bodyMentions, liveDescendants, makeWorkspace, statusTrail, type Workspace } from "../support/fake-model-server/agent-fixture.js"
import { type FakeModelServer, startFakeModelServer } from "../support/fake-model-server/index.js"
import { CLAUDE_TEST_KEY, plainText, seedClaudeHome } from "../support/native-cli-homes.js"
import { eventually, makeCollector } from "../runner/support/events.js"
import { memoryTerminals } from "../runner/support/terminal.js"

let server: FakeModelServer
let workspace: Workspace
let env: Record<string, string>

beforeAll(async () => {
  if (findCli("claude", "@anthropic-ai/claude-code") === null) {
    throw new Error("the claude CLI (@anthropic-ai/claude-code, a devDependency) is not installed: run npm install")
  }
  server = await startFakeModelServer()
  workspace = makeWorkspace("claude-native")
  env = seedClaudeHome(workspace.home, [workspace.dir])
})

afterAll(async () => {
  await server?.close()
  workspace?.cleanup()
})

const isType = <T extends SessionEvent["type"]>(type: T) => (e: SessionEvent): e is Extract<SessionEvent, { type: T }> => e.type === type

describe("claude-native harness", () => {
  it.effect("declares its capabilities and readiness without printing the key", () =>
    Effect.gen(function*() {
      const harness = makeClaudeNativeHarness({ env })
      assert.sameMembers([...harness.capabilities], ["streaming", "interrupt", "resume", "terminal"])
      const readiness = yield* harness.readiness
      assert.isTrue(readiness.ready, readiness.detail ?? "")
      assert.include(readiness.detail, "claude")
      assert.include(readiness.detail, "ANTHROPIC_API_KEY")
      assert.notInclude(readiness.detail, CLAUDE_TEST_KEY)
      const missing = yield* makeClaudeNativeHarness({ env, cliPath: "/nonexistent/claude" }).readiness
      assert.isFalse(missing.ready)
      assert.include(missing.detail, "not found")
    }))

  it.effect("rejects a bad --tether-base-url before anything runs", () =>
    Effect.gen(function*() {
      const harness = makeClaudeNativeHarness({ env })
      const { factory } = memoryTerminals()
      const c = makeCollector()
      const error = yield* Effect.scoped(harness.start({
        sessionId: "ses_bad",
        cwd: workspace.dir,
        args: ["--tether-base-url", "not-a-url"],
        prompt: null,
        emit: c.emit,
        terminal: factory
      })).pipe(Effect.flip)
      assert.strictEqual(error._tag, "HarnessError")
      assert.include(error.reason, "--tether-base-url")
      assert.lengthOf(c.events, 0)
    }))

  it.live("the CLI in a PTY: prompt and typed message reach the model, answers come from the transcript, stop leaves nothing", () =>
    Effect.gen(function*() {
      const harness = makeClaudeNativeHarness({ env, stopGrace: "1 second", pollInterval: "100 millis" })
      const { factory, terminals } = memoryTerminals()
      const c = makeCollector()
      server.script(
        { kind: "tool_call", name: "Read", arguments: { file_path: workspace.notesPath }, text: "Reading it." },
        { kind: "text", text: "First answer: ready." },
        { kind: "text", text: "Second answer: marmalade." },
        { kind: "text", text: "spare 1" },
        { kind: "text", text: "spare 2" }
      )
      const scope = yield* Scope.make()
      const scope2 = yield* Scope.make()
      const session = yield* harness.start({
        sessionId: "ses_claude_native",
        cwd: workspace.dir,
        args: ["--tether-base-url", server.url, "--model", "claude-fake"],
        prompt: "native hello one",
        emit: c.emit,
        terminal: factory,
        size: { cols: 100, rows: 30 }
        // Uninterruptible, as the runner starts sessions.
      }).pipe(Effect.uninterruptible, Scope.extend(scope))
      const screen = () => plainText(terminals[0]?.text() ?? "").slice(-2000)

      const first = yield* c.waitFor("the first answer from the transcript", (e) => e.type === "message" && e.role === "assistant" && e.text.includes("First answer"), "45 seconds")
        .pipe(Effect.catchAllDefect((d) => Effect.die(new Error(`${String(d)}; screen: ${screen()}`))))
      assert.strictEqual(first.type, "message")
      const request = server.requests.find((r) => r.path === "/v1/messages" && bodyMentions(r.body, "native hello one"))
      assert.isDefined(request, "the first prompt reached the fake model server")
      assert.strictEqual((request?.body as { model?: string }).model, "claude-fake")
      assert.include(c.texts("user"), "native hello one")
      const agentSession = c.events.find(isType("agent_session"))
      assert.match(agentSession?.agentSessionId ?? "", /^[0-9a-f-]{36}$/)
      assert.isDefined(c.events.find(isType("usage")))
      const call = c.events.find(isType("tool_call"))
      assert.deepStrictEqual([call?.name, call?.input], ["Read", { file_path: workspace.notesPath }])
      const result = c.events.find(isType("tool_result"))
      assert.strictEqual(result?.callId, call?.callId)
      assert.include(JSON.stringify(result?.output), "marmalade")

      // Typed like a viewer: the text, then Enter.
      terminals[0]?.type("native typed two")
      yield* Effect.sleep("300 millis")
      terminals[0]?.type("\r")
      yield* c.waitFor("the second answer", (e) => e.type === "message" && e.role === "assistant" && e.text.includes("marmalade"), "30 seconds")
        .pipe(Effect.catchAllDefect((d) => Effect.die(new Error(`${String(d)}; screen: ${screen()}`))))
      assert.isDefined(server.requests.find((r) => r.path === "/v1/messages" && bodyMentions(r.body, "native typed two")))

      // session.send types a message the same way.
      yield* session.send("native sent three")
      yield* eventually("the sent message in the transcript", () => c.texts("user").find((t) => t === "native sent three"), "30 seconds")
      yield* c.waitFor("the third answer", (e) => e.type === "message" && e.role === "assistant" && e.text.startsWith("spare"), "30 seconds")
      server.clearScript()

      // Interrupt: Ctrl-C typed into the PTY cancels the hanging model request.
      server.script({ kind: "hang" })
      const aborted = server.aborted
      yield* session.send("native hang four")
      yield* eventually("the hanging request", () => server.requests.find((r) => bodyMentions(r.body, "native hang four")), "30 seconds")
      yield* Effect.sleep("500 millis")
      yield* session.interrupt
      yield* eventually("the request aborted", () => (server.aborted > aborted ? true : undefined), "15 seconds")
        .pipe(Effect.catchAllDefect((d) => Effect.die(new Error(`${String(d)}; screen: ${screen()}`))))

      yield* session.stop
      const exit = yield* session.exited
      assert.isNotNull(exit)
      assert.deepStrictEqual(statusTrail(c.events).at(-1), "exited:stopped")
      yield* Scope.close(scope, Exit.void)
      yield* eventually("no processes left", () => (liveDescendants().length === 0 ? true : undefined), "10 seconds")

      // Resume (what a restarted runner does): `claude --resume <id>` continues the conversation.
      server.clearScript()
      server.script({ kind: "text", text: "Resumed answer." }, { kind: "text", text: "spare" })
      const resumed = makeCollector()
      const again = yield* harness.start({
        sessionId: "ses_claude_native",
        cwd: workspace.dir,
        args: ["--tether-base-url", server.url, "--model", "claude-fake"],
        prompt: "native after resume",
        emit: resumed.emit,
        terminal: factory,
        resumeId: agentSession?.agentSessionId ?? null
      }).pipe(Effect.uninterruptible, Scope.extend(scope2))
      yield* resumed.waitFor("the resumed answer", (e) => e.type === "message" && e.role === "assistant" && e.text === "Resumed answer.", "45 seconds")
        .pipe(Effect.catchAllDefect((d) => Effect.die(new Error(`${String(d)}; screen: ${plainText(terminals[1]?.text() ?? "").slice(-2000)}`))))
      const continued = server.requests.find((r) => bodyMentions(r.body, "native after resume"))
      assert.isTrue(bodyMentions(continued?.body, "native hello one"), "the resumed request carries the earlier conversation")
      assert.notInclude(resumed.texts("assistant"), "First answer: ready.", "only this session's new lines are read")
      yield* again.stop
      yield* Scope.close(scope2, Exit.void)
      yield* eventually("no processes left after resume", () => (liveDescendants().length === 0 ? true : undefined), "10 seconds")
    }), 120_000)
})
