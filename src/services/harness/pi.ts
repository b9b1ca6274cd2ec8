/**
 * The `pi` harness: the pi coding agent (`@mariozechner/pi-coding-agent`) in
 * its RPC mode (`pi --mode rpc`: JSON lines on stdin/stdout), one process per
 * session, spawned detached as the leader of its own process group.
 *
 * Arguments: `--model M`, `--provider P` (a pi provider name; default: pi's
 * own settings), `--base-url URL`, `--api anthropic-messages|openai-responses|openai-completions`.
 * With a custom endpoint (`--base-url`, or `ANTHROPIC_BASE_URL` /
 * `OPENAI_BASE_URL` for the anthropic / openai providers) the session
 * registers a provider of its own through a small pi extension written to a
 * private temporary directory (endpoint, API and model come from the
 * environment, never from generated code); `--model` is then required and
 * `--api` defaults to `anthropic-messages` for anthropic and
 * `openai-responses` otherwise; the key comes from `ANTHROPIC_API_KEY` or
 * `OPENAI_API_KEY` accordingly.
 *
 * Events: `agent_session` with pi's session id (asked with `get_state` at
 * start); text as `message_delta` … `message`; tool executions as
 * `tool_call` / `tool_result`; one `usage` per agent run (summed over its
 * assistant messages, with pi's cost); failed model calls and rejected
 * commands as `error` events. Messages sent while the agent runs are queued
 * by pi as follow-ups.
 *
 * No approvals: pi has no permission prompts (extension dialogs are answered
 * "cancelled"). Interrupt sends pi's `abort`. Stop closes pi's input and
 * terminates its process group (SIGTERM, SIGKILL after the grace period). If
 * pi exits by itself the session fails with its last stderr lines.
 *
 * Resume: an adopted session restarts pi with `--session <id>`. Closing the
 * scope without `stop` (runner shutdown) terminates pi but emits no
 * finishing status, so the session stays open to be adopted.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { HarnessCapability } from "../../domain/host.js"
import { commonOptions, parseHarnessArgs } from "./agents/args.js"
import { checkDirectory, packageDir, toolOutput } from "./agents/common.js"
import { ProcessGroups } from "./agents/process-groups.js"
import { anthropicSetup, childEnvironment, openAiSetup, piLoginFile } from "./agents/providers.js"
import { describeError, makeSessionKit, type SessionKit } from "./agents/session-kit.js"
import { type Harness, HarnessError, type HarnessStartSpec, type RunningSession } from "./Harness.js"

const NAME = "pi"
const PACKAGE = "@mariozechner/pi-coding-agent"
const CAPABILITIES: ReadonlyArray<HarnessCapability> = ["streaming", "interrupt", "resume"]
const APIS = ["anthropic-messages", "openai-responses", "openai-completions"] as const

export const piOptions = {
  ...commonOptions,
  provider: { description: "pi's provider (anthropic, openai, google …; default: pi's settings)" },
  api: { choices: APIS, description: "the wire API of a custom --base-url (default: by provider)" }
} as const

export interface PiHarnessOptions {
  /** Between SIGTERM and SIGKILL when stopping. Default 3 s. */
  readonly stopGrace?: Duration.DurationInput
}

/** The pi extension that registers the session's endpoint (values come from the environment). */
const EXTENSION = `// Written by Tether: registers the endpoint of one pi session.
module.exports = function (pi) {
  const model = process.env.TETHER_PI_MODEL
  pi.registerProvider("tether", {
    name: "Tether endpoint",
    baseUrl: process.env.TETHER_PI_BASE_URL,
    apiKey: process.env.TETHER_PI_KEY_ENV,
    api: process.env.TETHER_PI_API,
    models: [{
      id: model, name: model, reasoning: false, input: ["text", "image"],
      cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }, contextWindow: 200000, maxTokens: 16384
    }]
  })
}
`

const cliPath = (): string | null => {
  const dir = packageDir(PACKAGE)
  return dir === null ? null : join(dir, "dist", "cli.js")
}

/** Where the session's requests go: pi's own configuration, or an endpoint of the session's own. */
type Endpoint =
  | { readonly kind: "pi" }
  | { readonly kind: "custom"; readonly baseUrl: string; readonly api: string; readonly keyEnv: string; readonly model: string }

const resolveEndpoint = (values: Readonly<Record<string, string>>): Effect.Effect<Endpoint, HarnessError> =>
  Effect.gen(function*() {
    const provider = values["provider"]
    const anthropic = yield* anthropicSetup
    const openai = yield* openAiSetup({ codexLogin: false })
    const envUrl = provider === "anthropic" && anthropic.customBaseUrl
      ? anthropic.baseUrl
      : provider === "openai" && openai.customBaseUrl
      ? openai.baseUrl
      : undefined
    const baseUrl = values["base-url"] ?? envUrl
    if (baseUrl === undefined) return { kind: "pi" }
    const model = values["model"]
    if (model === undefined) return yield* new HarnessError({ harness: NAME, reason: "--model is required with a custom endpoint" })
    const api = values["api"] ?? (provider === "anthropic" ? "anthropic-messages" : "openai-responses")
    return { kind: "custom", baseUrl, api, model, keyEnv: api === "anthropic-messages" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY" }
  })

interface RpcState {
  sessionId: string | null
  busy: boolean
  interrupting: boolean
  stopping: boolean
  usage: { input: number; output: number; cacheRead: number; cacheWrite: number; cost: number }
}

const numberField = (value: unknown, key: string): number => {
  if (typeof value !== "object" || value === null || !(key in value)) return 0
  const field = (value as Record<string, unknown>)[key]
  return typeof field === "number" && Number.isFinite(field) ? field : 0
}

const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}

const makeTranslator = (kit: SessionKit, state: RpcState, write: (command: object) => void) => {
  let blocks = new Map<number, string>()
  return (line: string): Effect.Effect<void> =>
    Effect.gen(function*() {
      let parsed: unknown
      try {
        parsed = JSON.parse(line)
      } catch {
        return // pi writes only JSON lines on stdout; anything else is noise
      }
      const event = record(parsed)
      switch (event["type"]) {
        case "response": {
          if (event["command"] === "get_state" && event["success"] === true) {
            const id = record(event["data"])["sessionId"]
            if (typeof id === "string" && id !== state.sessionId) {
              state.sessionId = id
              yield* kit.emit({ type: "agent_session", agentSessionId: id })
            }
          } else if (event["success"] === false) {
            yield* kit.emit({ type: "error", message: `pi refused ${String(event["command"])}: ${String(event["error"])}`, code: "input_rejected" })
            if (event["command"] === "prompt" && !state.busy) yield* kit.setStatus("idle")
          }
          return
        }
        case "agent_start":
          state.busy = true
          state.usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: 0 }
          return yield* kit.setStatus("running")
        case "agent_end": {
          state.busy = false
          const interrupted = state.interrupting
          state.interrupting = false
          const usage = state.usage
          yield* kit.emit({
            type: "usage",
            inputTokens: usage.input,
            outputTokens: usage.output,
            cacheReadTokens: usage.cacheRead,
            cacheWriteTokens: usage.cacheWrite,
            costUsd: usage.cost
          })
          write({ type: "get_state" })
          return yield* kit.setStatus("idle", interrupted ? "interrupted" : null)
        }
        case "message_start":
          blocks = new Map()
          return
        case "message_update": {
          const update = record(event["assistantMessageEvent"])
          const index = numberField(update, "contentIndex")
          if (update["type"] === "text_start") {
            blocks.set(index, kit.nextId("msg"))
          } else if (update["type"] === "text_delta" && typeof update["delta"] === "string" && update["delta"].length > 0) {
            const messageId = blocks.get(index) ?? kit.nextId("msg")
            blocks.set(index, messageId)
            yield* kit.emit({ type: "message_delta", messageId, text: update["delta"] })
          } else if (update["type"] === "text_end" && typeof update["content"] === "string") {
            const messageId = blocks.get(index) ?? kit.nextId("msg")
            blocks.delete(index)
            yield* kit.emit({ type: "message", messageId, role: "assistant", text: update["content"] })
          }
          return
        }
        case "message_end": {
          const message = record(event["message"])
          if (message["role"] !== "assistant") return
          const usage = record(message["usage"])
          state.usage.input += numberField(usage, "input")
          state.usage.output += numberField(usage, "output")
          state.usage.cacheRead += numberField(usage, "cacheRead")
          state.usage.cacheWrite += numberField(usage, "cacheWrite")
          state.usage.cost += numberField(usage["cost"], "total")
          if (message["stopReason"] === "error") {
            const detail = typeof message["errorMessage"] === "string" ? message["errorMessage"] : "the model request failed"
            yield* kit.emit({ type: "error", message: detail, code: "model_error" })
          }
          return
        }
        case "tool_execution_start":
          return yield* kit.emit({
            type: "tool_call",
            callId: String(event["toolCallId"]),
            name: String(event["toolName"]),
            input: event["args"] ?? null
          })
        case "tool_execution_end":
          return yield* kit.emit({
            type: "tool_result",
            callId: String(event["toolCallId"]),
            output: toolOutput(record(event["result"])["content"] ?? null),
            isError: event["isError"] === true
          })
        case "auto_retry_start":
          return yield* kit.emit({ type: "error", message: `retrying: ${String(event["errorMessage"] ?? "")}`, code: "retrying" })
        case "extension_ui_request": {
          // No one can answer a dialog here: cancel it so pi does not wait forever.
          if (["select", "confirm", "input", "editor"].includes(String(event["method"]))) {
            write({ type: "extension_ui_response", id: event["id"], cancelled: true })
          }
          return
        }
        default:
          return
      }
    })
}

export const makePiHarness = (options: PiHarnessOptions = {}): Harness => {
  const stopGrace = Duration.decode(options.stopGrace ?? "3 seconds")

  const readiness = Effect.gen(function*() {
    const cli = cliPath()
    if (cli === null) return { ready: false, detail: `${PACKAGE} is not installed` }
    const anthropic = yield* anthropicSetup
    const openai = yield* openAiSetup({ codexLogin: false })
    const login = yield* piLoginFile
    const sources = [
      ...(login === null ? [] : [login]),
      ...(Option.isSome(anthropic.apiKey) ? ["ANTHROPIC_API_KEY"] : []),
      ...(Option.isSome(openai.apiKey) ? ["OPENAI_API_KEY"] : [])
    ]
    return sources.length === 0
      ? { ready: false, detail: "no credentials: log in with pi (/login) or set ANTHROPIC_API_KEY or OPENAI_API_KEY" }
      : { ready: true, detail: `credentials: ${sources.join(", ")}` }
  })

  const start = Effect.fn("PiHarness.start")(function*(spec: HarnessStartSpec) {
    const values = parseHarnessArgs(NAME, spec.args, piOptions)
    if (values instanceof HarnessError) return yield* values
    yield* checkDirectory(NAME, spec.cwd)
    const cli = cliPath()
    if (cli === null) return yield* new HarnessError({ harness: NAME, reason: `${PACKAGE} is not installed` })
    const endpoint = yield* resolveEndpoint(values)

    const env: Record<string, string | undefined> = {}
    const cliArgs: Array<string> = [cli, "--mode", "rpc"]
    if (endpoint.kind === "custom") {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "tether-pi-"))),
        (path) => Effect.sync(() => rmSync(path, { recursive: true, force: true }))
      )
      const extension = join(dir, "endpoint.cjs")
      writeFileSync(extension, EXTENSION, { mode: 0o600 })
      Object.assign(env, {
        TETHER_PI_BASE_URL: endpoint.baseUrl,
        TETHER_PI_API: endpoint.api,
        TETHER_PI_KEY_ENV: endpoint.keyEnv,
        TETHER_PI_MODEL: endpoint.model
      })
      cliArgs.push("--extension", extension, "--provider", "tether", "--model", endpoint.model)
    } else {
      if (values["provider"] !== undefined) cliArgs.push("--provider", values["provider"])
      if (values["model"] !== undefined) cliArgs.push("--model", values["model"])
    }
    if (spec.resumeId !== undefined && spec.resumeId !== null) cliArgs.push("--session", spec.resumeId)

    const kit = yield* makeSessionKit(NAME, spec.emit)
    const groups = new ProcessGroups()
    const state: RpcState = {
      sessionId: spec.resumeId ?? null,
      busy: false,
      interrupting: false,
      stopping: false,
      usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: 0 }
    }
    let stderrTail: ReadonlyArray<string> = []

    const child: ChildProcess = yield* Effect.async<ChildProcess, HarnessError>((resume) => {
      const spawned = groups.spawnDetached(process.execPath, cliArgs, {
        cwd: spec.cwd,
        env: childEnvironment(env),
        stdio: ["pipe", "pipe", "pipe"]
      })
      spawned.once("spawn", () => resume(Effect.succeed(spawned)))
      spawned.once("error", (cause) =>
        resume(Effect.fail(new HarnessError({ harness: NAME, reason: `cannot start pi: ${describeError(cause)}`, cause }))))
    })
    yield* Effect.addFinalizer(() => groups.terminate(stopGrace))
    child.stdin?.on("error", () => {}) // writes after pi exited: reported by `send`
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      stderrTail = [...stderrTail, ...text.split("\n").filter((l) => l.trim() !== "")].slice(-5)
    })
    const exitedProcess = new Promise<void>((resolve) => child.once("exit", () => resolve()))

    const write = (command: object): void => {
      if (child.stdin !== null && child.stdin.writable) child.stdin.write(`${JSON.stringify(command)}\n`)
    }
    const translate = makeTranslator(kit, state, write)
    const stdout = child.stdout
    if (stdout === null) return yield* new HarnessError({ harness: NAME, reason: "pi has no stdout" })

    const pump = NodeStream.fromReadable<Error>(() => stdout, (cause) => new Error(String(cause))).pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach(translate),
      Effect.ignore,
      Effect.zipRight(Effect.promise(() => exitedProcess)),
      Effect.zipRight(Effect.suspend(() =>
        state.stopping
          ? Effect.void
          : kit.finish(
            "failed",
            `agent_exited: pi exited with ${child.exitCode ?? child.signalCode ?? "?"}${
              stderrTail.length === 0 ? "" : ` (${stderrTail.join(" | ")})`
            }`,
            child.exitCode
          )
      ))
    )

    yield* kit.setStatus("running")
    const pumpFiber = yield* Effect.forkScoped(pump)
    write({ type: "get_state" })

    const send = (text: string): Effect.Effect<void, HarnessError> =>
      Effect.flatMap(kit.ensureOpen, () =>
        Effect.suspend(() => {
          if (child.stdin === null || !child.stdin.writable) {
            return Effect.fail(new HarnessError({ harness: NAME, reason: "pi is not running; the input was not delivered" }))
          }
          const queued = state.busy
          state.busy = true
          write({ type: "prompt", message: text, ...(queued ? { streamingBehavior: "followUp" } : {}) })
          return kit.setStatus("running")
        }))

    /** `finishing`: a stop ends the session; a closing scope (runner shutdown) leaves it open to be resumed. */
    let released = false
    const release = (finishing: boolean): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (!released && !kit.isFinished()) {
          released = true
          state.stopping = true
          child.stdin?.end()
          yield* groups.terminate(stopGrace)
          yield* Fiber.await(pumpFiber).pipe(Effect.timeout("2 seconds"), Effect.ignore)
        }
        if (finishing) yield* kit.finish("exited", "stopped", null)
      })
    const stop = release(true).pipe(Effect.withSpan("PiHarness.stop"))
    yield* Effect.addFinalizer(() => release(false))

    if (spec.prompt !== null) yield* send(spec.prompt)
    else yield* kit.setStatus("idle")

    const running: RunningSession = {
      send,
      interrupt: Effect.sync(() => {
        if (!state.busy || kit.isFinished()) return
        state.interrupting = true
        write({ type: "abort" })
      }),
      stop,
      resolveApproval: () => Effect.fail(new HarnessError({ harness: NAME, reason: "pi sessions have no approvals to resolve" })),
      exited: kit.exited
    }
    return running
  })

  return { name: NAME, capabilities: CAPABILITIES, readiness, start }
}

export const piHarness: Harness = makePiHarness()
