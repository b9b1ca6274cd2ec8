/**
 * The `codex` harness: OpenAI's Codex agent through `codex app-server` (the
 * CLI from `@openai/codex`), one app-server process per session speaking
 * JSON-RPC over its stdio (`./codex/app-server.ts`). A session is one Codex
 * thread; each user message runs one turn, queued behind the running one.
 *
 * Arguments: `--model M`, `--base-url URL` (an OpenAI-compatible Responses
 * endpoint for this session), `--sandbox read-only|workspace-write|danger-full-access`
 * (default `workspace-write`), `--approval-policy untrusted|on-request|never`
 * (default `untrusted`: every command Codex does not know to be read-only,
 * and every file change outside the sandbox's reach, asks first).
 *
 * Endpoint: with a custom base URL (`--base-url` or `OPENAI_BASE_URL`) the
 * thread uses a model provider of its own (`model_provider = "tether"`, HTTP
 * streaming only, key from `OPENAI_API_KEY`/`CODEX_API_KEY`, or Codex's login
 * when neither is set); otherwise Codex's own configuration and login apply.
 *
 * Events: `agent_session` with the thread id; the agent's text streams as
 * `message_delta` and ends as `message` (same `messageId`); commands, file
 * changes, MCP tool calls and web searches are `tool_call` when they start
 * (or when they ask for approval) and `tool_result` when they complete (a
 * declined one is an error result); retried agent errors are `error` events
 * (code `agent_warning`); each turn's token usage is a `usage` event.
 *
 * Approvals: `item/commandExecution/requestApproval` (tool `command`) and
 * `item/fileChange/requestApproval` (tool `apply_patch`) become
 * `approval_request`s. allow → `accept`, allow_session → `acceptForSession`
 * (the kit then also allows the same command, or any file change, without
 * asking), deny → `decline`; a request cancelled by an interrupt or a stop is
 * answered `cancel`. Codex's answer has no room for a note, so a deny's note
 * reaches the model as user input sent just before the decline: steered into
 * the running turn (`turn/steer`), so the model's next request carries both,
 * or, when that turn has already ended, queued as the next user message.
 *
 * Interrupt sends `turn/interrupt` (pending approvals are cancelled); the
 * thread stays usable. Stop cancels approvals, closes app-server's stdin
 * (its input channel, so it exits by itself) and terminates its process
 * group (SIGTERM, SIGKILL after the grace period): app-server is spawned as
 * the leader of its own group, so the commands it started go too. If
 * app-server ends by itself the session fails with the last lines it wrote
 * to stderr.
 *
 * Resume: a session adopted after a runner restart resumes its thread by id
 * (`thread/resume`; Codex keeps threads in `$CODEX_HOME/sessions`). Closing
 * the scope without `stop` (runner shutdown) terminates the process but
 * emits no finishing status, so the session stays open to be adopted.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Runtime from "effect/Runtime"
import { join } from "node:path"
import type { HarnessCapability } from "../../domain/host.js"
import { commonOptions, parseHarnessArgs } from "./agents/args.js"
import { checkDirectory, packageDir, toolOutput } from "./agents/common.js"
import { ProcessGroups } from "./agents/process-groups.js"
import { childEnvironment, describeSetup, openAiSetup, type ProviderSetup, withBaseUrl } from "./agents/providers.js"
import { type ApprovalAnswer, describeError, makeSessionKit, type SessionKit } from "./agents/session-kit.js"
import { startTurnLoop, type TurnLoop } from "./agents/turn-loop.js"
import { AppServerConnection } from "./codex/app-server.js"
import {
  type ApprovalPolicy,
  type ApprovalReply,
  field,
  type Item,
  itemOf,
  type SandboxMode,
  stringField,
  textInput,
  type TokenTotals,
  totalsOf,
  type TurnInfo,
  turnOf
} from "./codex/protocol.js"
import { type Harness, HarnessError, type HarnessStartSpec, type RunningSession } from "./Harness.js"

const NAME = "codex"
const CLI_PACKAGE = "@openai/codex"
const CAPABILITIES: ReadonlyArray<HarnessCapability> = ["streaming", "interrupt", "approvals", "resume"]

export const codexOptions = {
  ...commonOptions,
  sandbox: {
    choices: ["read-only", "workspace-write", "danger-full-access"],
    description: "Codex's sandbox for commands (default workspace-write)"
  },
  "approval-policy": {
    choices: ["untrusted", "on-request", "never"],
    description: "when Codex asks for approval (default untrusted: anything not known to be read-only)"
  }
} as const

export interface CodexHarnessOptions {
  /** Between SIGTERM and SIGKILL when stopping. Default 3 s. */
  readonly stopGrace?: Duration.DurationInput
}

/** `node …/@openai/codex/bin/codex.js`, or null when the Codex CLI is missing. */
const codexCommand = (): ReadonlyArray<string> | null => {
  const sdkDir = packageDir("@openai/codex-sdk")
  const cliDir = packageDir(CLI_PACKAGE) ??
    (sdkDir === null ? null : packageDir(CLI_PACKAGE, join(sdkDir, "package.json")))
  return cliDir === null ? null : [process.execPath, join(cliDir, "bin", "codex.js")]
}

/** `-c key=value` overrides (values as TOML) that send the thread to a custom endpoint over plain HTTP streaming. */
const providerArgs = (setup: ProviderSetup): ReadonlyArray<string> => {
  if (!setup.customBaseUrl) return []
  const credential: ReadonlyArray<readonly [string, string | boolean]> =
    setup.credentialSource === "OPENAI_API_KEY" || setup.credentialSource === "CODEX_API_KEY"
      ? [["env_key", setup.credentialSource]]
      : [["requires_openai_auth", true]]
  const provider: ReadonlyArray<readonly [string, string | boolean]> = [
    ["name", "Tether"],
    ["base_url", setup.baseUrl],
    ["wire_api", "responses"],
    ["supports_websockets", false],
    ...credential
  ]
  return [
    "-c",
    `model_provider=${JSON.stringify("tether")}`,
    ...provider.flatMap(([key, value]) => ["-c", `model_providers.tether.${key}=${JSON.stringify(value)}`])
  ]
}

const callOf = (item: Item): { readonly name: string; readonly input: unknown } | null => {
  switch (item.type) {
    case "commandExecution":
      return { name: "command", input: { command: item["command"], cwd: item["cwd"] } }
    case "fileChange":
      return { name: "apply_patch", input: { changes: item["changes"] } }
    case "mcpToolCall":
      return { name: `${String(item["server"])}.${String(item["tool"])}`, input: item["arguments"] }
    case "webSearch":
      return { name: "web_search", input: { query: item["query"] } }
    default:
      return null
  }
}

const resultOf = (item: Item): { readonly output: unknown; readonly isError: boolean } | null => {
  const status = item["status"]
  switch (item.type) {
    case "commandExecution": {
      const exitCode = typeof item["exitCode"] === "number" ? item["exitCode"] : null
      return {
        output: { exitCode, output: item["aggregatedOutput"] ?? "", ...(status === "declined" ? { declined: true } : {}) },
        isError: status === "failed" || status === "declined" || (exitCode !== null && exitCode !== 0)
      }
    }
    case "fileChange":
      return { output: { status, changes: item["changes"] }, isError: status === "failed" || status === "declined" }
    case "mcpToolCall": {
      const error = field(item["error"], "message")
      return error === undefined || error === null
        ? { output: toolOutput(field(item["result"], "content") ?? null), isError: status === "failed" }
        : { output: error, isError: true }
    }
    case "webSearch":
      return { output: null, isError: false }
    default:
      return null
  }
}

/** What a session remembers between notifications. */
interface SessionState {
  threadId: string
  /** The running turn's id, once `turn/start` answered. */
  turnId: string | null
  stopping: boolean
  /** Totals at the end of the previous turn, to report each turn's own usage. */
  reportedTotals: TokenTotals | null
  latestTotals: TokenTotals | null
}

const subtract = (a: TokenTotals, b: TokenTotals | null): TokenTotals =>
  b === null ? a : {
    inputTokens: Math.max(0, a.inputTokens - b.inputTokens),
    cachedInputTokens: Math.max(0, a.cachedInputTokens - b.cachedInputTokens),
    cacheWriteInputTokens: Math.max(0, a.cacheWriteInputTokens - b.cacheWriteInputTokens),
    outputTokens: Math.max(0, a.outputTokens - b.outputTokens)
  }

/** Turns waiting for `turn/completed`, by turn id (the notification may come before `turn/start` answers). */
class TurnWaits {
  private readonly waits = new Map<string, Deferred.Deferred<TurnInfo, HarnessError>>()
  private failure: HarnessError | null = null

  get(turnId: string): Effect.Effect<Deferred.Deferred<TurnInfo, HarnessError>> {
    return Effect.gen(this, function*() {
      const known = this.waits.get(turnId)
      if (known !== undefined) return known
      const made = yield* Deferred.make<TurnInfo, HarnessError>()
      if (this.failure !== null) yield* Deferred.fail(made, this.failure)
      this.waits.set(turnId, made)
      return made
    })
  }

  complete(turn: TurnInfo): Effect.Effect<void> {
    return Effect.flatMap(this.get(turn.id), (wait) => Deferred.succeed(wait, turn))
  }

  forget(turnId: string): void {
    this.waits.delete(turnId)
  }

  /** Fails every wait, now and later (the process ended or the session stops). */
  failAll(error: HarnessError): Effect.Effect<void> {
    this.failure = error
    return Effect.forEach([...this.waits.values()], (wait) => Deferred.fail(wait, error), { discard: true })
  }
}

type Incoming =
  | { readonly kind: "notification"; readonly method: string; readonly params: unknown }
  | { readonly kind: "exit"; readonly code: number | null; readonly signal: NodeJS.Signals | null }

const makeTranslator = (kit: SessionKit, state: SessionState, turns: TurnWaits, announced: Set<string>) => {
  const messageIds = new Map<string, string>()
  const messageIdOf = (itemId: string) => {
    const known = messageIds.get(itemId)
    if (known !== undefined) return known
    const made = kit.nextId("msg")
    messageIds.set(itemId, made)
    return made
  }
  const emitCall = (item: Item) => {
    const call = callOf(item)
    if (call === null || announced.has(item.id)) return Effect.void
    announced.add(item.id)
    return kit.emit({ type: "tool_call", callId: item.id, name: call.name, input: call.input })
  }

  return (method: string, params: unknown): Effect.Effect<void> =>
    Effect.gen(function*() {
      switch (method) {
        case "item/agentMessage/delta": {
          const itemId = stringField(params, "itemId")
          const delta = stringField(params, "delta")
          if (itemId === null || delta === null || delta.length === 0) return
          return yield* kit.emit({ type: "message_delta", messageId: messageIdOf(itemId), text: delta })
        }
        case "item/started": {
          const item = itemOf(params)
          return item === null ? undefined : yield* emitCall(item)
        }
        case "item/completed": {
          const item = itemOf(params)
          if (item === null) return
          if (item.type === "agentMessage") {
            const text = typeof item["text"] === "string" ? item["text"] : ""
            return yield* kit.emit({ type: "message", messageId: messageIdOf(item.id), role: "assistant", text })
          }
          const result = resultOf(item)
          if (result === null) return
          yield* emitCall(item)
          return yield* kit.emit({ type: "tool_result", callId: item.id, output: result.output, isError: result.isError })
        }
        case "thread/tokenUsage/updated": {
          state.latestTotals = totalsOf(params) ?? state.latestTotals
          return
        }
        case "turn/completed": {
          const turn = turnOf(params)
          if (turn === null) return
          if (state.latestTotals !== null && state.latestTotals !== state.reportedTotals) {
            const usage = subtract(state.latestTotals, state.reportedTotals)
            state.reportedTotals = state.latestTotals
            yield* kit.emit({
              type: "usage",
              inputTokens: usage.inputTokens,
              outputTokens: usage.outputTokens,
              cacheReadTokens: usage.cachedInputTokens,
              cacheWriteTokens: usage.cacheWriteInputTokens,
              costUsd: null
            })
          }
          return yield* turns.complete(turn)
        }
        case "error": {
          const message = stringField(field(params, "error"), "message") ?? "the agent reported an error"
          // A final error of the running turn comes back with `turn/completed` (status failed).
          if (field(params, "willRetry") === true) return yield* kit.emit({ type: "error", message, code: "agent_warning" })
          if (stringField(params, "turnId") === state.turnId) return
          return yield* kit.emit({ type: "error", message, code: "agent_error" })
        }
        default:
          return
      }
    })
}

export const makeCodexHarness = (options: CodexHarnessOptions = {}): Harness => {
  const stopGrace = Duration.decode(options.stopGrace ?? "3 seconds")

  const readiness = Effect.gen(function*() {
    if (codexCommand() === null) return { ready: false, detail: `the Codex CLI (${CLI_PACKAGE}) is not installed` }
    const setup = yield* openAiSetup({ codexLogin: true })
    return setup.credentialSource === null
      ? { ready: false, detail: `no OpenAI credentials: set OPENAI_API_KEY or log in with codex (${describeSetup(setup)})` }
      : { ready: true, detail: describeSetup(setup) }
  })

  const start = Effect.fn("CodexHarness.start")(function*(spec: HarnessStartSpec) {
    const values = parseHarnessArgs(NAME, spec.args, codexOptions)
    if (values instanceof HarnessError) return yield* values
    yield* checkDirectory(NAME, spec.cwd)
    const command = codexCommand()
    if (command === null) return yield* new HarnessError({ harness: NAME, reason: `the Codex CLI (${CLI_PACKAGE}) is not installed` })
    const setup = withBaseUrl(yield* openAiSetup({ codexLogin: true }), values["base-url"])
    if (setup.credentialSource === null) {
      return yield* new HarnessError({ harness: NAME, reason: "no OpenAI credentials: set OPENAI_API_KEY or log in with codex" })
    }
    const sandbox = (values["sandbox"] ?? "workspace-write") as SandboxMode
    const approvalPolicy = (values["approval-policy"] ?? "untrusted") as ApprovalPolicy

    const kit = yield* makeSessionKit(NAME, spec.emit)
    const runtime = yield* Effect.runtime<never>()
    const runPromise = Runtime.runPromise(runtime)
    const runFork = Runtime.runFork(runtime)
    const groups = new ProcessGroups()
    const turns = new TurnWaits()
    const announced = new Set<string>()
    /** File-change items by id, recorded as they start (their approval requests name only the item). */
    const fileChanges = new Map<string, unknown>()
    const incoming = yield* Queue.unbounded<Incoming>()
    const state: SessionState = {
      threadId: spec.resumeId ?? "",
      turnId: null,
      stopping: false,
      reportedTotals: null,
      latestTotals: null
    }
    let stderrTail: Array<string> = []
    /** Set once the turn loop runs (approval notes that miss their turn become its next message). */
    let loop: TurnLoop | null = null

    const fail = (reason: string, cause?: unknown) => new HarnessError({ harness: NAME, reason, cause })

    /** Tells the model a deny's note: into the running turn, else as the next message. */
    const tellNote = (turnId: string, note: string): Effect.Effect<void> => {
      const text = `The user declined that request: ${note}`
      return call("turn/steer", { threadId: state.threadId, expectedTurnId: turnId, input: textInput(text) }).pipe(
        Effect.catchAll(() => (loop === null || state.stopping ? Effect.void : loop.send(text))),
        Effect.ignore
      )
    }

    const reply = (answer: ApprovalAnswer): ApprovalReply =>
      answer.allowed
        ? answer.decision === "allow_session" ? "acceptForSession" : "accept"
        : answer.decision === "deny" ? "decline" : "cancel"

    const askApproval = (tool: string, input: unknown, description: string | null, key: string, params: unknown) =>
      Effect.gen(function*() {
        const answer = yield* kit.approvals.request(tool, input, description, key)
        const decision = reply(answer)
        const turnId = stringField(params, "turnId")
        // Steered before the decline goes out, so the model's next request carries both.
        if (decision === "decline" && answer.note !== null && answer.note.trim() !== "" && turnId !== null) {
          yield* tellNote(turnId, answer.note)
        }
        return { decision }
      })

    const answerRequest = (method: string, params: unknown): Effect.Effect<unknown, HarnessError> =>
      Effect.gen(function*() {
        const itemId = stringField(params, "itemId")
        const reason = stringField(params, "reason")
        switch (method) {
          case "item/commandExecution/requestApproval": {
            const command = stringField(params, "command") ?? ""
            const input = { command, cwd: stringField(params, "cwd") }
            if (itemId !== null && !announced.has(itemId)) {
              announced.add(itemId)
              yield* kit.emit({ type: "tool_call", callId: itemId, name: "command", input })
            }
            return yield* askApproval("command", input, reason, `command:${command}`, params)
          }
          case "item/fileChange/requestApproval": {
            const grantRoot = stringField(params, "grantRoot")
            const input = {
              changes: itemId === null ? null : fileChanges.get(itemId) ?? null,
              ...(grantRoot === null ? {} : { grantRoot })
            }
            return yield* askApproval("apply_patch", input, reason, "apply_patch", params)
          }
          default:
            return yield* fail(`Tether does not answer ${method} requests`)
        }
      })

    const child = groups.spawnDetached(command[0] ?? process.execPath, [...command.slice(1), "app-server", ...providerArgs(setup)], {
      cwd: spec.cwd,
      env: childEnvironment({}),
      stdio: ["pipe", "pipe", "pipe"]
    })
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      stderrTail = [...stderrTail, ...text.split("\n").filter((line) => line.trim() !== "")].slice(-5)
    })
    const connection = yield* Effect.try({
      try: () =>
        new AppServerConnection(child, {
          onNotification: (method, params) => {
            const item = method === "item/started" ? itemOf(params) : null
            if (item !== null && item.type === "fileChange") fileChanges.set(item.id, item["changes"])
            Queue.unsafeOffer(incoming, { kind: "notification", method, params })
          },
          onRequest: (method, params) => runPromise(answerRequest(method, params)),
          onExit: (code, signal) => Queue.unsafeOffer(incoming, { kind: "exit", code, signal })
        }),
      catch: (cause) => fail(`cannot start the Codex app-server: ${describeError(cause)}`, cause)
    })
    function call(method: string, params: unknown): Effect.Effect<unknown, HarnessError> {
      return Effect.tryPromise({
        try: () => connection.request(method, params),
        catch: (cause) => fail(`${method} failed: ${describeError(cause)}`, cause)
      })
    }

    const translate = makeTranslator(kit, state, turns, announced)
    const handle = (message: Incoming): Effect.Effect<void> => {
      if (message.kind === "notification") return translate(message.method, message.params)
      const ended = `the Codex app-server ended (${message.signal ?? `exit code ${message.code ?? "unknown"}`})`
      return turns.failAll(fail(ended)).pipe(
        Effect.zipRight(
          state.stopping
            ? Effect.void
            : kit.finish("failed", `agent_exited: ${ended}${stderrTail.length === 0 ? "" : ` (${stderrTail.join(" | ")})`}`, null)
        )
      )
    }
    // Interruptible: `start` may run inside an uninterruptible region, which a forked fiber would inherit.
    yield* Effect.forkScoped(Effect.interruptible(Effect.forever(Effect.flatMap(Queue.take(incoming), handle))))

    /**
     * Ends app-server and everything it started. `finishing`: a stop, which
     * ends the session (`exited`, `stopped`); otherwise the scope closed
     * under it (the runner shuts down) and the session stays open, so that
     * the next runner adopts and resumes it.
     */
    let released = false
    const release = (finishing: boolean): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (!released && !kit.isFinished()) {
          released = true
          state.stopping = true
          yield* turns.failAll(fail("the session is stopping"))
          if (loop !== null) yield* loop.shutdown
          else yield* kit.approvals.cancelAll("the session is stopping")
          connection.close()
          yield* groups.terminate(stopGrace)
        }
        if (finishing) yield* kit.finish("exited", "stopped", null)
      })

    const threadParams = {
      cwd: spec.cwd,
      sandbox,
      approvalPolicy,
      ...(values["model"] === undefined ? {} : { model: values["model"] })
    }
    yield* Effect.gen(function*() {
      yield* call("initialize", { clientInfo: { name: "tether", title: "Tether", version: "1" }, capabilities: null })
      connection.notify("initialized")
      const opened = state.threadId === ""
        ? yield* call("thread/start", threadParams)
        : yield* call("thread/resume", { threadId: state.threadId, ...threadParams, excludeTurns: true })
      const threadId = stringField(field(opened, "thread"), "id")
      if (threadId === null) return yield* fail("the Codex app-server opened a thread without an id")
      if (threadId !== spec.resumeId) yield* kit.emit({ type: "agent_session", agentSessionId: threadId })
      state.threadId = threadId
    }).pipe(
      Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => fail("the Codex app-server did not open the thread within 60 s") }),
      Effect.tapError(() => release(false))
    )

    const runTurn = (text: string, signal: AbortSignal) =>
      Effect.gen(function*() {
        const started = turnOf(yield* call("turn/start", { threadId: state.threadId, input: textInput(text) }))
        if (started === null) return yield* fail("the Codex app-server started a turn without an id")
        state.turnId = started.id
        const wait = yield* turns.get(started.id)
        const interrupt = () => {
          if (!state.stopping) runFork(call("turn/interrupt", { threadId: state.threadId, turnId: started.id }).pipe(Effect.ignore))
        }
        if (signal.aborted) interrupt()
        else signal.addEventListener("abort", interrupt, { once: true })
        const turn = yield* Deferred.await(wait).pipe(
          Effect.ensuring(Effect.sync(() => {
            signal.removeEventListener("abort", interrupt)
            turns.forget(started.id)
            state.turnId = null
          }))
        )
        if (turn.status === "failed") return yield* fail(turn.errorMessage ?? "the turn failed")
      })

    yield* kit.setStatus("running")
    const turnLoop = yield* startTurnLoop(kit, runTurn)
    loop = turnLoop
    // Added after the turn loop, so it runs before the loop's own finalizer: it shuts the loop's queue down
    // first, which lets its worker end even when it was forked uninterruptible.
    yield* Effect.addFinalizer(() => release(false))

    if (spec.prompt !== null) yield* turnLoop.send(spec.prompt)
    else yield* kit.setStatus("idle")

    const running: RunningSession = {
      send: turnLoop.send,
      // Cancels pending approvals when it runs (the loop's own `interrupt` builds its list of pending approvals once).
      interrupt: Effect.suspend(() => kit.approvals.cancelAll("interrupted by the user")).pipe(Effect.zipRight(turnLoop.interrupt)),
      stop: release(true).pipe(Effect.withSpan("CodexHarness.stop")),
      resolveApproval: kit.approvals.resolve,
      exited: kit.exited
    }
    return running
  })

  return { name: NAME, capabilities: CAPABILITIES, readiness, start }
}

export const codexHarness: Harness = makeCodexHarness()
