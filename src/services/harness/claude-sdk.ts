/**
 * The `claude-sdk` harness: Claude Code driven through
 * `@anthropic-ai/claude-agent-sdk` (loaded only when a session starts), one
 * long-lived agent process per session in streaming-input mode, so every
 * user message is the next turn of the same conversation.
 *
 * Arguments: `--model M`, `--base-url URL` (sets `ANTHROPIC_BASE_URL` for
 * this session), `--permission-mode default|acceptEdits|plan` (default
 * `default`: tools that need permission ask through approvals).
 *
 * Events: `status running` at once (then `idle` between turns, `running` per
 * turn, `waiting_approval` while asking); `agent_session` with Claude's
 * session id; text streams as `message_delta` and ends as `message` (same
 * `messageId`); `tool_use` blocks are `tool_call`s and their results
 * `tool_result`s; each turn's `result` gives a `usage` event (the turn's
 * tokens; cost is the turn's share of the running total); errors the agent
 * reports are `error` events.
 *
 * Approvals: Claude's permission callback (`canUseTool`) becomes an
 * `approval_request` (tool name and input); `allow_session` remembers the
 * tool for the session; `deny` sends the client's note back to the model as
 * the refusal message. Interrupt asks the agent to stop the turn (pending
 * approvals are denied). Stop closes the agent and then terminates its
 * process group (SIGTERM, SIGKILL after the grace period): the agent is
 * spawned detached, so whatever it started goes too. If the agent process
 * ends by itself the session fails with the last lines it wrote to stderr.
 *
 * Resume: a session adopted after a runner restart passes its last
 * `agent_session` id as `resume`, so the next message continues the same
 * Claude conversation (Claude keeps transcripts on disk). Closing the
 * session's scope without `stop` (the runner shutting down) terminates the
 * agent the same way but emits no finishing status: the session stays open
 * on the server for the next runner to adopt.
 */
import type {
  CanUseTool,
  Options as ClaudeOptions,
  Query,
  SDKMessage,
  SDKUserMessage,
  SpawnedProcess
} from "@anthropic-ai/claude-agent-sdk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import type { HarnessCapability } from "../../domain/host.js"
import { commonOptions, parseHarnessArgs } from "./agents/args.js"
import { checkDirectory, loadPackage, packageDir, toolOutput } from "./agents/common.js"
import { InputQueue } from "./agents/input-queue.js"
import { ProcessGroups } from "./agents/process-groups.js"
import { anthropicSetup, childEnvironment, describeSetup, withBaseUrl } from "./agents/providers.js"
import { describeError, makeSessionKit, type SessionKit } from "./agents/session-kit.js"
import { type Harness, HarnessError, type HarnessStartSpec, type RunningSession } from "./Harness.js"

const NAME = "claude-sdk"
const PACKAGE = "@anthropic-ai/claude-agent-sdk"
const CAPABILITIES: ReadonlyArray<HarnessCapability> = ["streaming", "interrupt", "approvals", "resume"]

export const claudeSdkOptions = {
  ...commonOptions,
  "permission-mode": {
    choices: ["default", "acceptEdits", "plan"],
    description: "Claude's permission mode (default: tools that need permission ask for approval)"
  }
} as const

export interface ClaudeSdkHarnessOptions {
  /** Between SIGTERM and SIGKILL when stopping. Default 3 s. */
  readonly stopGrace?: Duration.DurationInput
}

const loadSdk = () => loadPackage(NAME, PACKAGE, () => import("@anthropic-ai/claude-agent-sdk"))

/** Text block ids per API message, in the order their streams started (to pair deltas with the final block). */
class TextBlocks {
  private readonly started = new Map<string, Array<string>>()
  private readonly byIndex = new Map<string, string>()

  start(apiMessageId: string, index: number, messageId: string): void {
    const list = this.started.get(apiMessageId) ?? []
    list.push(messageId)
    this.started.set(apiMessageId, list)
    this.byIndex.set(`${apiMessageId}:${index}`, messageId)
  }

  atIndex(apiMessageId: string, index: number): string | undefined {
    return this.byIndex.get(`${apiMessageId}:${index}`)
  }

  /** The id of the next completed text block of this API message (the one its deltas used), if it streamed. */
  take(apiMessageId: string): string | undefined {
    return this.started.get(apiMessageId)?.shift()
  }
}

/** Turns the agent's messages into session events. */
interface TurnState {
  /** A turn runs (input delivered or a model request started, no result yet). */
  busy: boolean
  interrupting: boolean
  costSoFar: number
  sessionId: string | null
}

const makeTranslator = (kit: SessionKit, state: TurnState) => {
  const blocks = new TextBlocks()
  let currentApiMessage: string | null = null

  return (message: SDKMessage): Effect.Effect<void> =>
    Effect.gen(function*() {
      switch (message.type) {
        case "system": {
          if (message.subtype === "init" && message.session_id !== state.sessionId) {
            state.sessionId = message.session_id
            yield* kit.emit({ type: "agent_session", agentSessionId: message.session_id })
          }
          return
        }
        case "stream_event": {
          if (message.parent_tool_use_id !== null) return
          const event = message.event
          if (event.type === "message_start") {
            currentApiMessage = event.message.id
            // Queued messages start turns of their own without a new `send`.
            state.busy = true
            yield* kit.setStatus("running")
          }
          if (currentApiMessage === null) return
          if (event.type === "content_block_start" && event.content_block.type === "text") {
            blocks.start(currentApiMessage, event.index, kit.nextId("msg"))
          } else if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
            const messageId = blocks.atIndex(currentApiMessage, event.index)
            if (messageId !== undefined && event.delta.text.length > 0) {
              yield* kit.emit({ type: "message_delta", messageId, text: event.delta.text })
            }
          }
          return
        }
        case "assistant": {
          if (message.parent_tool_use_id !== null) return
          for (const block of message.message.content) {
            if (block.type === "text") {
              const messageId = blocks.take(message.message.id) ?? kit.nextId("msg")
              yield* kit.emit({ type: "message", messageId, role: "assistant", text: block.text })
            } else if (block.type === "tool_use") {
              yield* kit.emit({ type: "tool_call", callId: block.id, name: block.name, input: block.input })
            }
          }
          if (message.error !== undefined) {
            yield* kit.emit({ type: "error", message: `the model request failed: ${message.error}`, code: message.error })
          }
          return
        }
        case "user": {
          if (message.parent_tool_use_id !== null) return
          const content = message.message.content
          if (typeof content === "string") return
          for (const block of content) {
            if (block.type === "tool_result") {
              yield* kit.emit({
                type: "tool_result",
                callId: block.tool_use_id,
                output: toolOutput(block.content ?? ""),
                isError: block.is_error === true
              })
            }
          }
          return
        }
        case "result": {
          const usage = message.usage
          const cost = Math.max(0, message.total_cost_usd - state.costSoFar)
          state.costSoFar = Math.max(state.costSoFar, message.total_cost_usd)
          yield* kit.emit({
            type: "usage",
            inputTokens: usage.input_tokens,
            outputTokens: usage.output_tokens,
            cacheReadTokens: usage.cache_read_input_tokens ?? null,
            cacheWriteTokens: usage.cache_creation_input_tokens ?? null,
            costUsd: Number.isFinite(cost) ? cost : null
          })
          const interrupted = state.interrupting
          state.interrupting = false
          state.busy = false
          if (message.subtype !== "success" && !interrupted) {
            const detail = "errors" in message && message.errors.length > 0 ? `: ${message.errors.join("; ")}` : ""
            yield* kit.emit({ type: "error", message: `the turn ended with ${message.subtype}${detail}`, code: message.subtype })
          } else if (message.subtype === "success" && message.is_error) {
            yield* kit.emit({ type: "error", message: message.result, code: "turn_error" })
          }
          yield* kit.setStatus("idle", interrupted ? "interrupted" : null)
          return
        }
        default:
          return
      }
    })
}

export const makeClaudeSdkHarness = (options: ClaudeSdkHarnessOptions = {}): Harness => {
  const stopGrace = Duration.decode(options.stopGrace ?? "3 seconds")

  const readiness = Effect.gen(function*() {
    // Installed is enough here: loading an SDK takes seconds and happens when a session starts.
    if (packageDir(PACKAGE) === null) return { ready: false, detail: `${PACKAGE} is not installed` }
    const setup = yield* anthropicSetup
    return setup.credentialSource === null
      ? { ready: false, detail: `no Anthropic credentials: set ANTHROPIC_API_KEY or log in with claude (${describeSetup(setup)})` }
      : { ready: true, detail: describeSetup(setup) }
  })

  const start = Effect.fn("ClaudeSdkHarness.start")(function*(spec: HarnessStartSpec) {
    const values = parseHarnessArgs(NAME, spec.args, claudeSdkOptions)
    if (values instanceof HarnessError) return yield* values
    yield* checkDirectory(NAME, spec.cwd)
    const sdk = yield* loadSdk()
    const setup = withBaseUrl(yield* anthropicSetup, values["base-url"])
    if (setup.credentialSource === null) {
      return yield* new HarnessError({ harness: NAME, reason: "no Anthropic credentials: set ANTHROPIC_API_KEY or log in with claude" })
    }

    const kit = yield* makeSessionKit(NAME, spec.emit)
    const runtime = yield* Effect.runtime<never>()
    const runPromise = Runtime.runPromise(runtime)
    const groups = new ProcessGroups()
    const inputs = new InputQueue<SDKUserMessage>()
    const abort = new AbortController()
    const state: TurnState & { stopping: boolean } = {
      busy: false,
      interrupting: false,
      costSoFar: 0,
      sessionId: spec.resumeId ?? null,
      stopping: false
    }
    let stderrTail: Array<string> = []

    const canUseTool: CanUseTool = (toolName, input, context) =>
      runPromise(kit.approvals.request(toolName, input, context.title ?? context.description ?? context.decisionReason ?? null)).then(
        (answer) =>
          answer.allowed
            ? { behavior: "allow", updatedInput: input, toolUseID: context.toolUseID }
            : { behavior: "deny", message: answer.note ?? "The user denied this tool call.", toolUseID: context.toolUseID }
      )

    const queryOptions: ClaudeOptions = {
      cwd: spec.cwd,
      abortController: abort,
      includePartialMessages: true,
      canUseTool,
      permissionMode: (values["permission-mode"] ?? "default") as "default" | "acceptEdits" | "plan",
      env: childEnvironment({ ANTHROPIC_BASE_URL: setup.customBaseUrl ? setup.baseUrl : undefined }),
      stderr: (text) => {
        stderrTail = [...stderrTail, ...text.split("\n").filter((line) => line.trim() !== "")].slice(-5)
      },
      spawnClaudeCodeProcess: (spawnOptions): SpawnedProcess => {
        const child = groups.spawnDetached(spawnOptions.command, spawnOptions.args, {
          cwd: spawnOptions.cwd ?? spec.cwd,
          env: spawnOptions.env,
          stdio: ["pipe", "pipe", "pipe"]
        })
        child.stderr?.setEncoding("utf8").on("data", (text: string) => queryOptions.stderr?.(text))
        if (child.stdin === null || child.stdout === null) throw new Error("the agent process has no stdio")
        return {
          stdin: child.stdin,
          stdout: child.stdout,
          get killed() {
            return child.killed
          },
          get exitCode() {
            return child.exitCode
          },
          get signalCode() {
            return child.signalCode
          },
          kill: (signal) => child.kill(signal),
          on: (event, listener) => {
            child.on(event, listener)
          },
          once: (event, listener) => {
            child.once(event, listener)
          },
          off: (event, listener) => {
            child.off(event, listener)
          }
        }
      },
      ...(values["model"] === undefined ? {} : { model: values["model"] }),
      ...(spec.resumeId === undefined || spec.resumeId === null ? {} : { resume: spec.resumeId })
    }

    const query: Query = yield* Effect.try({
      try: () => sdk.query({ prompt: inputs, options: queryOptions }),
      catch: (cause) => new HarnessError({ harness: NAME, reason: `cannot start Claude: ${describeError(cause)}`, cause })
    })

    const translate = makeTranslator(kit, state)
    const pump = Stream.fromAsyncIterable(query, (cause) => cause).pipe(
      Stream.runForEach(translate),
      Effect.either,
      Effect.flatMap((result) =>
        state.stopping
          ? Effect.void
          : kit.finish(
            "failed",
            `agent_exited: ${
              result._tag === "Left" ? describeError(result.left) : "the Claude process ended"
            }${stderrTail.length === 0 ? "" : ` (${stderrTail.join(" | ")})`}`,
            null
          )
      ),
      Effect.ensuring(Effect.suspend(() => groups.terminate(stopGrace)))
    )

    const deliver = (text: string): Effect.Effect<void, HarnessError> =>
      Effect.flatMap(kit.ensureOpen, () =>
        Effect.suspend(() => {
          const accepted = inputs.push({
            type: "user",
            message: { role: "user", content: text },
            parent_tool_use_id: null,
            session_id: state.sessionId ?? ""
          })
          if (accepted) state.busy = true
          return accepted
            ? kit.setStatus("running")
            : Effect.fail(new HarnessError({ harness: NAME, reason: "the session is stopping; the input was not delivered" }))
        }))

    yield* kit.setStatus("running")
    const pumpFiber = yield* Effect.forkScoped(pump)

    /**
     * Ends the agent and everything it started. `finishing`: a stop, which
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
          yield* kit.approvals.cancelAll("the session is stopping")
          inputs.close()
          yield* Effect.sync(() => query.close()).pipe(Effect.ignore)
          abort.abort()
          yield* groups.terminate(stopGrace)
          yield* Fiber.await(pumpFiber).pipe(Effect.timeout("2 seconds"), Effect.ignore)
        }
        if (finishing) yield* kit.finish("exited", "stopped", null)
      })
    const stop = release(true).pipe(Effect.withSpan("ClaudeSdkHarness.stop"))
    yield* Effect.addFinalizer(() => release(false))

    if (spec.prompt !== null) yield* deliver(spec.prompt)
    else yield* kit.setStatus("idle")

    const running: RunningSession = {
      send: deliver,
      interrupt: Effect.suspend(() => {
        if (kit.isFinished() || !state.busy) return Effect.void
        state.interrupting = true
        return kit.approvals.cancelAll("interrupted by the user").pipe(
          Effect.zipRight(
            Effect.tryPromise({
              try: () => query.interrupt(),
              catch: (cause) => new HarnessError({ harness: NAME, reason: `cannot interrupt: ${describeError(cause)}`, cause })
            })
          ),
          Effect.asVoid
        )
      }),
      stop,
      resolveApproval: kit.approvals.resolve,
      exited: kit.exited
    }
    return running
  })

  return { name: NAME, capabilities: CAPABILITIES, readiness, start }
}

export const claudeSdkHarness: Harness = makeClaudeSdkHarness()
