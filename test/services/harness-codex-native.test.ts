/**
 * The `codex-native` harness with the real Codex CLI (@openai/codex) in a
 * real PTY, pointed at the fake model server with `--tether-base-url` (a
 * provider of its own over HTTP streaming), a dummy key and a scratch HOME /
 * CODEX_HOME: the first prompt and a message typed into the terminal reach
 * the model (model and prompt checked in the recorded requests), the
 * scripted answers come back as `message` events read from Codex's rollout
 * JSONL (with `agent_session` and `usage`), and stop leaves no process
 * behind. Plus readiness and argument errors.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { makeCodexNativeHarness } from "../../src/services/harness/codex-native.js"
import { findCli } from "../../src/services/harness/native/cli-binary.js"
import { bodyMentions, liveDescendants, makeWorkspace, statusTrail, type Workspace } from "../support/fake-model-server/agent-fixture.js"
import { type FakeModelServer, startFakeModelServer } from "../support/fake-model-server/index.js"
import { OPENAI_TEST_KEY, plainText, seedCodexHome } from "../support/native-cli-homes.js"
import { eventually, makeCollector } from "../runner/support/events.js"
import { memoryTerminals } from "../runner/support/terminal.js"

let server: FakeModelServer
let workspace: Workspace
let env: Record<string, string>

beforeAll(async () => {
  if (findCli("codex", "@openai/codex") === null) {
    throw new Error("the codex CLI (@openai/codex, a devDependency) is not installed: run npm install")
  }
  server = await startFakeModelServer()
  workspace = makeWorkspace("codex-native")
  env = seedCodexHome(workspace.home, [workspace.dir])
})

afterAll(async () => {
  await server?.close()
  workspace?.cleanup()
})

const isType = <T extends SessionEvent["type"]>(type: T) => (e: SessionEvent): e is Extract<SessionEvent, { type: T }> => e.type === type

describe("codex-native harness", () => {
  it.effect("declares its capabilities and readiness without printing the key", () =>
    Effect.gen(function*() {
      const harness = makeCodexNativeHarness({ env })
      assert.sameMembers([...harness.capabilities], ["streaming", "interrupt", "resume", "terminal"])
      const readiness = yield* harness.readiness
      assert.isTrue(readiness.ready, readiness.detail ?? "")
      assert.include(readiness.detail, "codex")
      assert.include(readiness.detail, "OPENAI_API_KEY")
      assert.notInclude(readiness.detail, OPENAI_TEST_KEY)
    }))

  it.effect("rejects a bad --tether-base-url, and a CLI that cannot run, before anything runs", () =>
    Effect.gen(function*() {
      const { factory } = memoryTerminals()
      const c = makeCollector()
      const spec = { sessionId: "ses_bad", cwd: workspace.dir, prompt: null, emit: c.emit, terminal: factory }
      const badUrl = yield* Effect.scoped(makeCodexNativeHarness({ env }).start({ ...spec, args: ["--tether-base-url=ftp://x"] }))
        .pipe(Effect.flip)
      assert.include(badUrl.reason, "--tether-base-url")
      const missing = yield* Effect.scoped(makeCodexNativeHarness({ env, cliPath: "/nonexistent/codex" }).start({ ...spec, args: [] }))
        .pipe(Effect.flip)
      assert.include(missing.reason, "not found")
      assert.lengthOf(c.events, 0)
    }))

  it.live("the CLI in a PTY: prompt and typed message reach the model, answers come from the rollout, stop leaves nothing", () =>
    Effect.gen(function*() {
      const harness = makeCodexNativeHarness({ env, stopGrace: "1 second", pollInterval: "100 millis" })
      const { factory, terminals } = memoryTerminals()
      const c = makeCollector()
      const scope = yield* Scope.make()
      const scope2 = yield* Scope.make()
      const session = yield* harness.start({
        sessionId: "ses_codex_native",
        cwd: workspace.dir,
        // Codex's own flags pass through untouched.
        args: ["--tether-base-url", `${server.url}/v1`, "--model", "gpt-fake", "--sandbox", "danger-full-access", "--ask-for-approval", "never"],
        prompt: null,
        emit: c.emit,
        terminal: factory,
        size: { cols: 100, rows: 30 }
        // Uninterruptible, as the runner starts sessions.
      }).pipe(Effect.uninterruptible, Scope.extend(scope))
      const screen = () => plainText(terminals[0]?.text() ?? "").slice(-2000)
      const requestSummary = () =>
        server.requests.map((r) => {
          const input = (r.body as { input?: ReadonlyArray<unknown> } | null)?.input ?? []
          const instructions = String((r.body as { instructions?: unknown } | null)?.instructions ?? "").slice(0, 200)
          return `${r.method} ${r.path} ${instructions} ${JSON.stringify(input.slice(-1)).slice(0, 700)}`
        }).join("\n")
      const explain = Effect.catchAllDefect((d: unknown) =>
        Effect.die(new Error(`${String(d)}\n--- screen ---\n${screen()}\n--- requests ---\n${requestSummary()}`))
      )

      // Typed like a viewer once the TUI shows its prompt: the text, then Enter.
      yield* eventually("the prompt on screen", () => (screen().includes("Ask Codex") ? true : undefined), "30 seconds").pipe(explain)
      // Codex asks for a thread title alongside each message, in either order: both get the same answer.
      server.script({ kind: "text", text: "First answer: ready." }, { kind: "text", text: "First answer: ready." })
      terminals[0]?.type("native typed one")
      yield* Effect.sleep("300 millis")
      terminals[0]?.type("\r")
      yield* c.waitFor("the first answer from the rollout", (e) => e.type === "message" && e.role === "assistant" && e.text.includes("First answer"), "45 seconds")
        .pipe(explain)
      const request = server.requests.find((r) => r.path === "/v1/responses" && bodyMentions(r.body, "native typed one"))
      assert.isDefined(request, "the typed message reached the fake model server")
      assert.strictEqual((request?.body as { model?: string }).model, "gpt-fake")
      assert.include(c.texts("user"), "native typed one")
      assert.isDefined(c.events.find(isType("agent_session")))
      // Codex writes the turn's token count after its message: it may reach the rollout a moment later.
      yield* c.waitFor("the turn's usage from the rollout", isType("usage"), "10 seconds")
      yield* eventually("the title request answered", () => (server.pending === 0 ? true : undefined), "15 seconds")

      // session.send types a message the same way; this turn runs a command.
      const readNotes = { kind: "tool_call", name: "exec_command", arguments: { cmd: "cat notes.txt", workdir: workspace.dir } } as const
      // The turn's request comes first, the title request right after it (a tool call there would make
      // the title request loop too), then the turn's follow-up with the command's output.
      server.script(readNotes, { kind: "text", text: "Read the notes" }, { kind: "text", text: "Second answer: marmalade." })
      yield* session.send("native sent two")
      yield* c.waitFor("the second answer", (e) => e.type === "message" && e.role === "assistant" && e.text.includes("marmalade"), "30 seconds")
        .pipe(explain)
      assert.isDefined(server.requests.find((r) => r.path === "/v1/responses" && bodyMentions(r.body, "native sent two")))
      const call = c.events.find(isType("tool_call"))
      assert.strictEqual(call?.name, "exec_command")
      assert.deepInclude(call?.input as object, { cmd: "cat notes.txt" })
      const result = c.events.find(isType("tool_result"))
      assert.strictEqual(result?.callId, call?.callId)
      assert.include(JSON.stringify(result?.output), "marmalade")

      // Interrupt: Ctrl-C typed into the PTY cancels the hanging model request.
      server.clearScript()
      server.script({ kind: "hang" }, { kind: "hang" })
      const aborted = server.aborted
      yield* session.send("native hang three")
      yield* eventually("the hanging request", () => server.requests.find((r) => bodyMentions(r.body, "native hang three")), "30 seconds")
      yield* Effect.sleep("500 millis")
      yield* session.interrupt
      yield* eventually("the request aborted", () => (server.aborted > aborted ? true : undefined), "15 seconds").pipe(explain)

      yield* session.stop
      yield* session.exited
      assert.deepStrictEqual(statusTrail(c.events).at(-1), "exited:stopped")
      yield* Scope.close(scope, Exit.void)
      yield* eventually("no processes left", () => (liveDescendants().length === 0 ? true : undefined), "10 seconds")

      // Resume (what a restarted runner does): `codex resume <id>` continues the conversation.
      server.clearScript()
      server.script({ kind: "text", text: "Resumed answer." }, { kind: "text", text: "Resumed answer." })
      const resumed = makeCollector()
      const again = yield* harness.start({
        sessionId: "ses_codex_native",
        cwd: workspace.dir,
        args: ["--tether-base-url", `${server.url}/v1`, "--model", "gpt-fake"],
        prompt: "native after resume",
        emit: resumed.emit,
        terminal: factory,
        resumeId: c.events.find(isType("agent_session"))?.agentSessionId ?? null
      }).pipe(Effect.uninterruptible, Scope.extend(scope2))
      yield* resumed.waitFor("the resumed answer", (e) => e.type === "message" && e.role === "assistant" && e.text === "Resumed answer.", "45 seconds")
        .pipe(Effect.catchAllDefect((d) => Effect.die(new Error(`${String(d)}; screen: ${plainText(terminals[1]?.text() ?? "").slice(-2000)}`))))
      const lastInput = (body: unknown): string => JSON.stringify((body as { input?: ReadonlyArray<unknown> } | null)?.input?.at(-1) ?? null)
      const continued = server.requests.find((r) => r.path === "/v1/responses" && lastInput(r.body).includes("native after resume") && !lastInput(r.body).includes("task title"))
      assert.isDefined(continued, requestSummary())
      assert.isTrue(bodyMentions(continued?.body, "native typed one"), "the resumed request carries the earlier conversation")
      assert.notInclude(resumed.texts("assistant"), "First answer: ready.", "only this session's new lines are read")
      yield* again.stop
      yield* Scope.close(scope2, Exit.void)
      yield* eventually("no processes left after resume", () => (liveDescendants().length === 0 ? true : undefined), "10 seconds")
    }), 120_000)
})
