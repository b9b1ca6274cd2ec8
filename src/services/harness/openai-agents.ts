/**
 * The `openai-agents` harness: an agent built with `@openai/agents` (loaded
 * only when a session starts) running inside the runner, with the workspace
 * tools of `agents/workspace-tools.ts` (read_file, list_files, write_file,
 * run_command) confined to the session's working directory. Each user
 * message is one run over the conversation so far (kept in memory).
 *
 * Arguments: `--model M` (default: the SDK's default model), `--base-url URL`
 * (an OpenAI-compatible endpoint for this session), `--api responses|chat`
 * (default `responses`; `chat` uses Chat Completions, for endpoints without
 * the Responses API). Credentials: `OPENAI_API_KEY`. Tracing export is off.
 *
 * Events: streamed text as `message_delta`, then `message` (same id); tool
 * calls and their outputs as `tool_call` / `tool_result`; one `usage` per
 * turn (summed over the turn's model calls).
 *
 * Approvals: `write_file` and `run_command` need one. The run pauses with an
 * interruption; the harness emits `approval_request`s, and continues the run
 * once they are answered (`deny` sends the client's note to the model as the
 * tool's result; `allow_session` stops asking for that tool).
 *
 * Interrupt aborts the run (its model request and any command it runs);
 * the conversation keeps the turns that completed. Stop also kills every
 * command still running. No `resume`: the conversation lives in the runner's
 * memory and ends with it.
 */
import type { AgentInputItem, RunStreamEvent } from "@openai/agents"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { HarnessCapability } from "../../domain/host.js"
import { commonOptions, parseHarnessArgs } from "./agents/args.js"
import { checkDirectory, loadPackage, packageDir } from "./agents/common.js"
import { ProcessGroups } from "./agents/process-groups.js"
import { describeSetup, openAiSetup, secretValue, withBaseUrl } from "./agents/providers.js"
import { makeSessionKit, type SessionKit } from "./agents/session-kit.js"
import { startTurnLoop } from "./agents/turn-loop.js"
import { workspaceTools } from "./agents/workspace-tools.js"
import { type Harness, HarnessError, type HarnessStartSpec, type RunningSession } from "./Harness.js"

const NAME = "openai-agents"
const PACKAGE = "@openai/agents"
const CAPABILITIES: ReadonlyArray<HarnessCapability> = ["streaming", "interrupt", "approvals"]

export const openAiAgentsOptions = {
  ...commonOptions,
  api: { choices: ["responses", "chat"], description: "which OpenAI API to call (default responses)" }
} as const

export interface OpenAiAgentsHarnessOptions {
  /** Between SIGTERM and SIGKILL for commands still running at stop. Default 3 s. */
  readonly stopGrace?: Duration.DurationInput
}

const INSTRUCTIONS = "You are a coding agent working in the user's project directory. " +
  "Use the tools to inspect and change files and to run commands; paths are relative to the project directory. " +
  "Be concise."

const loadSdk = () => loadPackage(NAME, PACKAGE, () => import("@openai/agents"))

const parseArguments = (text: string | undefined): unknown => {
  if (text === undefined) return null
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

interface TurnUsage {
  inputTokens: number
  outputTokens: number
  cachedTokens: number
}

const detail = (details: unknown, key: string): number => {
  const entries = Array.isArray(details) ? details : [details]
  let total = 0
  for (const entry of entries) {
    if (typeof entry === "object" && entry !== null && key in entry) {
      const value = (entry as Record<string, unknown>)[key]
      if (typeof value === "number") total += value
    }
  }
  return total
}

const makeTranslator = (kit: SessionKit, usage: TurnUsage, denied: Set<string>) => {
  let currentMessage: string | null = null
  const messageId = () => (currentMessage ??= kit.nextId("msg"))
  return (event: RunStreamEvent): Effect.Effect<void> =>
    Effect.gen(function*() {
      if (event.type === "raw_model_stream_event") {
        const data = event.data
        if (data.type === "output_text_delta" && data.delta.length > 0) {
          yield* kit.emit({ type: "message_delta", messageId: messageId(), text: data.delta })
        } else if (data.type === "response_done") {
          usage.inputTokens += data.response.usage.inputTokens
          usage.outputTokens += data.response.usage.outputTokens
          usage.cachedTokens += detail(data.response.usage.inputTokensDetails, "cached_tokens")
        }
        return
      }
      if (event.type !== "run_item_stream_event") return
      const item = event.item
      switch (event.name) {
        case "message_output_created": {
          if (item.type !== "message_output_item") return
          const text = item.content
          const id = messageId()
          currentMessage = null
          if (text.length > 0) yield* kit.emit({ type: "message", messageId: id, role: "assistant", text })
          return
        }
        case "tool_called": {
          if (item.type !== "tool_call_item" || item.rawItem.type !== "function_call") return
          const raw = item.rawItem
          return yield* kit.emit({ type: "tool_call", callId: raw.callId, name: raw.name, input: parseArguments(raw.arguments) })
        }
        case "tool_output": {
          if (item.type !== "tool_call_output_item" || item.rawItem.type !== "function_call_result") return
          const callId = item.rawItem.callId
          const output = typeof item.output === "string" ? item.output : item.output ?? null
          return yield* kit.emit({
            type: "tool_result",
            callId,
            output,
            isError: denied.has(callId) || (typeof output === "string" && output.startsWith("error:"))
          })
        }
        default:
          return
      }
    })
}

export const makeOpenAiAgentsHarness = (options: OpenAiAgentsHarnessOptions = {}): Harness => {
  const stopGrace = Duration.decode(options.stopGrace ?? "3 seconds")

  const readiness = Effect.gen(function*() {
    // Installed is enough here: loading an SDK takes seconds and happens when a session starts.
    if (packageDir(PACKAGE) === null) return { ready: false, detail: `${PACKAGE} is not installed` }
    const setup = yield* openAiSetup({ codexLogin: false })
    return setup.credentialSource === null
      ? { ready: false, detail: `no OpenAI credentials: set OPENAI_API_KEY (${describeSetup(setup)})` }
      : { ready: true, detail: describeSetup(setup) }
  })

  const start = Effect.fn("OpenAiAgentsHarness.start")(function*(spec: HarnessStartSpec) {
    const values = parseHarnessArgs(NAME, spec.args, openAiAgentsOptions)
    if (values instanceof HarnessError) return yield* values
    yield* checkDirectory(NAME, spec.cwd)
    const sdk = yield* loadSdk()
    const setup = withBaseUrl(yield* openAiSetup({ codexLogin: false }), values["base-url"])
    const apiKey = secretValue(setup.apiKey)
    if (apiKey === undefined) return yield* new HarnessError({ harness: NAME, reason: "no OpenAI credentials: set OPENAI_API_KEY" })

    const kit = yield* makeSessionKit(NAME, spec.emit)
    const groups = new ProcessGroups()
    const tools = workspaceTools({ cwd: spec.cwd, groups }).map((definition) =>
      sdk.tool({
        name: definition.name,
        description: definition.description,
        parameters: {
          type: "object",
          properties: { ...definition.parameters.properties },
          required: [...definition.parameters.required],
          additionalProperties: false
        },
        strict: true,
        needsApproval: definition.needsApproval,
        execute: (input, _context, details) => definition.run(input, details?.signal)
      })
    )
    const agent = new sdk.Agent({
      name: "Tether agent",
      instructions: INSTRUCTIONS,
      tools,
      ...(values["model"] === undefined ? {} : { model: values["model"] })
    })
    const runner = new sdk.Runner({
      modelProvider: new sdk.OpenAIProvider({ apiKey, baseURL: setup.baseUrl, useResponses: values["api"] !== "chat" }),
      tracingDisabled: true
    })
    let history: ReadonlyArray<AgentInputItem> = []

    const runTurn = (text: string, signal: AbortSignal) =>
      Effect.gen(function*() {
        const usage: TurnUsage = { inputTokens: 0, outputTokens: 0, cachedTokens: 0 }
        const denied = new Set<string>()
        const translate = makeTranslator(kit, usage, denied)
        const consume = <R extends AsyncIterable<RunStreamEvent> & { readonly completed: Promise<void> }>(result: R) =>
          Stream.runForEach(Stream.fromAsyncIterable(result, (cause) => cause), translate).pipe(
            Effect.zipRight(Effect.tryPromise(() => result.completed)),
            Effect.as(result)
          )
        const input: Array<AgentInputItem> = [...history, { role: "user", content: text }]
        let result = yield* consume(yield* Effect.tryPromise(() => runner.run(agent, input, { stream: true, signal })))
        while (result.interruptions.length > 0) {
          const state = result.state
          for (const approval of result.interruptions) {
            const name = approval.name ?? "tool"
            const answer = yield* kit.approvals.request(name, parseArguments(approval.arguments), null, name)
            if (answer.allowed) {
              state.approve(approval)
            } else {
              if (approval.rawItem.type === "function_call") denied.add(approval.rawItem.callId)
              state.reject(approval, { message: answer.note ?? "The user denied this tool call." })
            }
          }
          if (signal.aborted) return
          result = yield* consume(yield* Effect.tryPromise(() => runner.run(agent, state, { stream: true, signal })))
        }
        history = result.history
        yield* kit.emit({
          type: "usage",
          inputTokens: usage.inputTokens,
          outputTokens: usage.outputTokens,
          cacheReadTokens: usage.cachedTokens,
          cacheWriteTokens: null,
          costUsd: null
        })
      }).pipe(Effect.ensuring(Effect.suspend(() => (signal.aborted ? groups.terminate("100 millis") : Effect.void))))

    yield* kit.setStatus("running")
    const loop = yield* startTurnLoop(kit, runTurn)

    const stop: Effect.Effect<void> = Effect.gen(function*() {
      if (kit.isFinished()) return
      yield* loop.shutdown
      yield* groups.terminate(stopGrace)
      yield* kit.finish("exited", "stopped", null)
    }).pipe(Effect.withSpan("OpenAiAgentsHarness.stop"))
    yield* Effect.addFinalizer(() => stop)

    if (spec.prompt !== null) yield* loop.send(spec.prompt)
    else yield* kit.setStatus("idle")

    const running: RunningSession = {
      send: loop.send,
      interrupt: loop.interrupt,
      stop,
      resolveApproval: kit.approvals.resolve,
      exited: kit.exited
    }
    return running
  })

  return { name: NAME, capabilities: CAPABILITIES, readiness, start }
}

export const openAiAgentsHarness: Harness = makeOpenAiAgentsHarness()
