/**
 * The `codex` harness: OpenAI's Codex agent through `@openai/codex-sdk`
 * (loaded only when a session starts). A session is one Codex thread; each
 * user message runs one turn (`codex exec` under the hood), queued behind the
 * running one.
 *
 * Arguments: `--model M`, `--base-url URL` (an OpenAI-compatible Responses
 * endpoint for this session), `--sandbox read-only|workspace-write|danger-full-access`
 * (default `workspace-write`).
 *
 * Endpoint: with a custom base URL (`--base-url` or `OPENAI_BASE_URL`) the
 * thread uses a model provider of its own (`model_provider = "tether"`, HTTP
 * streaming only, key from `OPENAI_API_KEY`/`CODEX_API_KEY`, or Codex's login
 * when neither is set); otherwise Codex's own configuration and login apply.
 *
 * Events: `agent_session` with the thread id; the agent's messages as
 * `message` (Codex reports whole messages, so there are no deltas); commands,
 * file changes, MCP tool calls and web searches as `tool_call` when they
 * start and `tool_result` when they complete; non-fatal agent errors as
 * `error` events (code `agent_warning`); each turn's token usage as `usage`.
 *
 * Approvals: none. `codex exec` cannot ask anyone, so threads run with
 * `approval_policy = "never"` inside the chosen sandbox; the harness does not
 * claim the `approvals` capability.
 *
 * Interrupt aborts the running turn (its `codex exec` process group is
 * terminated); the thread stays usable. Stop aborts the turn and terminates
 * every process group the session started: Codex is launched through a small
 * launcher that makes each `codex exec` the leader of its own group.
 *
 * Resume: a session adopted after a runner restart resumes its thread by id
 * (Codex keeps threads in `~/.codex/sessions`). Closing the scope without
 * `stop` (runner shutdown) terminates the processes but emits no finishing
 * status, so the session stays open to be adopted.
 */
import type { Codex, CodexOptions, ThreadEvent, ThreadItem, ThreadOptions } from "@openai/codex-sdk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { join } from "node:path"
import type { HarnessCapability } from "../../domain/host.js"
import { commonOptions, parseHarnessArgs } from "./agents/args.js"
import { checkDirectory, loadPackage, packageDir, toolOutput } from "./agents/common.js"
import { makeGroupLauncher } from "./agents/group-launcher.js"
import { ProcessGroups } from "./agents/process-groups.js"
import { childEnvironment, describeSetup, openAiSetup, type ProviderSetup, withBaseUrl } from "./agents/providers.js"
import { makeSessionKit, type SessionKit } from "./agents/session-kit.js"
import { startTurnLoop } from "./agents/turn-loop.js"
import { type Harness, HarnessError, type HarnessStartSpec, type RunningSession } from "./Harness.js"

const NAME = "codex"
const PACKAGE = "@openai/codex-sdk"
const CAPABILITIES: ReadonlyArray<HarnessCapability> = ["streaming", "interrupt", "resume"]
type Sandbox = NonNullable<ThreadOptions["sandboxMode"]>

export const codexOptions = {
  ...commonOptions,
  sandbox: {
    choices: ["read-only", "workspace-write", "danger-full-access"],
    description: "Codex's sandbox for commands (default workspace-write; Codex cannot ask for approvals here)"
  }
} as const

export interface CodexHarnessOptions {
  /** Between SIGTERM and SIGKILL when stopping. Default 3 s. */
  readonly stopGrace?: Duration.DurationInput
}

const loadSdk = () => loadPackage(NAME, PACKAGE, () => import("@openai/codex-sdk"))

/** `node …/@openai/codex/bin/codex.js`, the same Codex the SDK would run, or null when it is missing. */
const codexCommand = (): ReadonlyArray<string> | null => {
  const sdkDir = packageDir(PACKAGE)
  const cliDir = sdkDir === null ? null : packageDir("@openai/codex", join(sdkDir, "package.json"))
  return cliDir === null ? null : [process.execPath, join(cliDir, "bin", "codex.js")]
}

/** `--config` overrides that send this thread to a custom endpoint over plain HTTP streaming. */
const providerConfig = (setup: ProviderSetup): CodexOptions["config"] => {
  if (!setup.customBaseUrl) return undefined
  const credential = setup.credentialSource === "OPENAI_API_KEY" || setup.credentialSource === "CODEX_API_KEY"
    ? { env_key: setup.credentialSource }
    : { requires_openai_auth: true }
  return {
    model_provider: "tether",
    model_providers: {
      tether: { name: "Tether", base_url: setup.baseUrl, wire_api: "responses", supports_websockets: false, ...credential }
    }
  }
}

const commandOf = (item: ThreadItem): { readonly name: string; readonly input: unknown } | null => {
  switch (item.type) {
    case "command_execution":
      return { name: "command", input: { command: item.command } }
    case "file_change":
      return { name: "apply_patch", input: { changes: item.changes } }
    case "mcp_tool_call":
      return { name: `${item.server}.${item.tool}`, input: item.arguments }
    case "web_search":
      return { name: "web_search", input: { query: item.query } }
    default:
      return null
  }
}

const resultOf = (item: ThreadItem): { readonly output: unknown; readonly isError: boolean } | null => {
  switch (item.type) {
    case "command_execution":
      return {
        output: { exitCode: item.exit_code ?? null, output: item.aggregated_output },
        isError: item.status === "failed" || (item.exit_code !== undefined && item.exit_code !== 0)
      }
    case "file_change":
      return { output: { status: item.status, changes: item.changes }, isError: item.status === "failed" }
    case "mcp_tool_call":
      return item.error === undefined
        ? { output: toolOutput(item.result?.content ?? null), isError: item.status === "failed" }
        : { output: item.error.message, isError: true }
    case "web_search":
      return { output: null, isError: false }
    default:
      return null
  }
}

const makeTranslator = (kit: SessionKit, state: { threadId: string | null }) => {
  const announced = new Set<string>()
  const emitCall = (item: ThreadItem) => {
    const call = commandOf(item)
    if (call === null || announced.has(item.id)) return Effect.void
    announced.add(item.id)
    return kit.emit({ type: "tool_call", callId: item.id, name: call.name, input: call.input })
  }
  return (event: ThreadEvent): Effect.Effect<void> =>
    Effect.gen(function*() {
      switch (event.type) {
        case "thread.started":
          if (event.thread_id !== state.threadId) {
            state.threadId = event.thread_id
            yield* kit.emit({ type: "agent_session", agentSessionId: event.thread_id })
          }
          return
        case "item.started":
        case "item.updated":
          return yield* emitCall(event.item)
        case "item.completed": {
          const item = event.item
          if (item.type === "agent_message") {
            return yield* kit.emit({ type: "message", messageId: kit.nextId("msg"), role: "assistant", text: item.text })
          }
          if (item.type === "error") return yield* kit.emit({ type: "error", message: item.message, code: "agent_warning" })
          const result = resultOf(item)
          if (result === null) return
          yield* emitCall(item)
          return yield* kit.emit({ type: "tool_result", callId: item.id, output: result.output, isError: result.isError })
        }
        case "turn.completed":
          return yield* kit.emit({
            type: "usage",
            inputTokens: event.usage.input_tokens,
            outputTokens: event.usage.output_tokens,
            cacheReadTokens: event.usage.cached_input_tokens,
            cacheWriteTokens: event.usage.cache_write_input_tokens ?? null,
            costUsd: null
          })
        case "turn.failed":
          return yield* kit.emit({ type: "error", message: event.error.message, code: "turn_failed" })
        case "error":
          return yield* kit.emit({ type: "error", message: event.message, code: "agent_error" })
        default:
          return
      }
    })
}

export const makeCodexHarness = (options: CodexHarnessOptions = {}): Harness => {
  const stopGrace = Duration.decode(options.stopGrace ?? "3 seconds")

  const readiness = Effect.gen(function*() {
    // Installed is enough here: loading an SDK takes seconds and happens when a session starts.
    if (packageDir(PACKAGE) === null) return { ready: false, detail: `${PACKAGE} is not installed` }
    if (codexCommand() === null) return { ready: false, detail: "the Codex CLI (@openai/codex) is not installed" }
    const setup = yield* openAiSetup({ codexLogin: true })
    return setup.credentialSource === null
      ? { ready: false, detail: `no OpenAI credentials: set OPENAI_API_KEY or log in with codex (${describeSetup(setup)})` }
      : { ready: true, detail: describeSetup(setup) }
  })

  const start = Effect.fn("CodexHarness.start")(function*(spec: HarnessStartSpec) {
    const values = parseHarnessArgs(NAME, spec.args, codexOptions)
    if (values instanceof HarnessError) return yield* values
    yield* checkDirectory(NAME, spec.cwd)
    const sdk = yield* loadSdk()
    const command = codexCommand()
    if (command === null) return yield* new HarnessError({ harness: NAME, reason: "the Codex CLI (@openai/codex) is not installed" })
    const setup = withBaseUrl(yield* openAiSetup({ codexLogin: true }), values["base-url"])
    if (setup.credentialSource === null) {
      return yield* new HarnessError({ harness: NAME, reason: "no OpenAI credentials: set OPENAI_API_KEY or log in with codex" })
    }

    const kit = yield* makeSessionKit(NAME, spec.emit)
    const groups = new ProcessGroups()
    const launcher = yield* makeGroupLauncher(command)
    const config = providerConfig(setup)
    const codex: Codex = yield* Effect.try({
      try: () =>
        new sdk.Codex({
          codexPathOverride: launcher.path,
          env: childEnvironment(launcher.env),
          ...(config === undefined ? {} : { config })
        }),
      catch: (cause) => new HarnessError({ harness: NAME, reason: "cannot start Codex", cause })
    })
    const threadOptions: ThreadOptions = {
      workingDirectory: spec.cwd,
      skipGitRepoCheck: true,
      sandboxMode: (values["sandbox"] ?? "workspace-write") as Sandbox,
      approvalPolicy: "never",
      ...(values["model"] === undefined ? {} : { model: values["model"] })
    }
    const state = { threadId: spec.resumeId ?? null }
    const thread = state.threadId === null ? codex.startThread(threadOptions) : codex.resumeThread(state.threadId, threadOptions)
    const translate = makeTranslator(kit, state)

    const runTurn = (text: string, signal: AbortSignal) =>
      Effect.tryPromise(() => thread.runStreamed(text, { signal })).pipe(
        Effect.flatMap(({ events }) => Stream.runForEach(Stream.fromAsyncIterable(events, (cause) => cause), translate)),
        Effect.ensuring(Effect.sync(() => launcher.collect(groups)))
      )

    yield* kit.setStatus("running")
    const loop = yield* startTurnLoop(kit, runTurn)

    /** `finishing`: a stop ends the session; a closing scope (runner shutdown) leaves it open to be resumed. */
    let released = false
    const release = (finishing: boolean): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (!released && !kit.isFinished()) {
          released = true
          yield* loop.shutdown
          launcher.collect(groups)
          yield* groups.terminate(stopGrace)
        }
        if (finishing) yield* kit.finish("exited", "stopped", null)
      })
    const stop = release(true).pipe(Effect.withSpan("CodexHarness.stop"))
    yield* Effect.addFinalizer(() => release(false))

    if (spec.prompt !== null) yield* loop.send(spec.prompt)
    else yield* kit.setStatus("idle")

    const running: RunningSession = {
      send: loop.send,
      interrupt: loop.interrupt,
      stop,
      resolveApproval: () => Effect.fail(new HarnessError({ harness: NAME, reason: "codex sessions have no approvals to resolve" })),
      exited: kit.exited
    }
    return running
  })

  return { name: NAME, capabilities: CAPABILITIES, readiness, start }
}

export const codexHarness: Harness = makeCodexHarness()
