/**
 * The `codex-native` harness: the real `codex` CLI (its interactive TUI) in
 * a PTY through the terminal relay. `args` are Codex's own flags and
 * subcommands, passed through untouched, plus the harness's
 * `--tether-base-url URL` (an OpenAI Responses endpoint including `/v1`).
 * A first prompt is given to the CLI as its positional prompt.
 *
 * - Finding the CLI: `codex` on PATH, else `@openai/codex`'s bin (run with
 *   this Node).
 * - Endpoint: with a custom base URL (`--tether-base-url` or
 *   `OPENAI_BASE_URL`) the session gets a model provider of its own through
 *   `-c` overrides placed before the session's args (`model_provider =
 *   "tether"`, Responses API over HTTP streaming, key from `OPENAI_API_KEY` /
 *   `CODEX_API_KEY`, or Codex's login when neither is set); otherwise
 *   Codex's own configuration and login apply.
 * - Readiness: the CLI found; credentials (`OPENAI_API_KEY`,
 *   `CODEX_API_KEY`, or `$CODEX_HOME/auth.json`); the endpoint.
 * - Events: from Codex's rollout JSONL (see native/codex-transcript.ts),
 *   never from the screen.
 * - Interrupt: Ctrl-C typed into the PTY (Codex stops the running turn).
 * - Resume: a session adopted by a restarted runner runs `codex resume <id>`
 *   with the last `agent_session` id, and follows that rollout.
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { homedir } from "node:os"
import { join } from "node:path"
import type { HarnessCapability } from "../../domain/host.js"
import { describeSetup, openAiSetup, type ProviderSetup, withBaseUrl } from "./agents/providers.js"
import { type Harness, HarnessError } from "./Harness.js"
import { cliAt, findCli } from "./native/cli-binary.js"
import { codexTranscript, findRollout, sizeNow, snapshotRollouts } from "./native/codex-transcript.js"
import { makeNativeHarness, splitTetherArgs, withEnvironment } from "./native/native-harness.js"

const NAME = "codex-native"
const CAPABILITIES: ReadonlyArray<HarnessCapability> = ["streaming", "interrupt", "resume", "terminal"]

export interface CodexNativeOptions {
  /** Environment for the CLI over the runner's own (also read for its settings). */
  readonly env?: Readonly<Record<string, string>>
  /** The CLI to run instead of looking for it (an absolute path). */
  readonly cliPath?: string
  readonly stopGrace?: Duration.DurationInput
  readonly pollInterval?: Duration.DurationInput
}

const tomlString = (value: string): string => JSON.stringify(value)

/** `-c` overrides giving the session a model provider of its own, when the endpoint is custom. */
export const providerFlags = (setup: ProviderSetup): ReadonlyArray<string> => {
  if (!setup.customBaseUrl) return []
  const credential = setup.credentialSource === "OPENAI_API_KEY" || setup.credentialSource === "CODEX_API_KEY"
    ? `env_key = ${tomlString(setup.credentialSource)}`
    : "requires_openai_auth = true"
  return [
    "-c",
    `model_provider=${tomlString("tether")}`,
    "-c",
    `model_providers.tether={ name = "Tether", base_url = ${tomlString(setup.baseUrl)}, ${credential}, wire_api = "responses", supports_websockets = false }`
  ]
}

/** The subcommands after which a session id is the next word. */
const RESUMING = new Set(["resume", "fork"])

export const makeCodexNativeHarness = (options: CodexNativeOptions = {}): Harness => {
  const configured = withEnvironment(options.env)
  const cli = () =>
    options.cliPath !== undefined
      ? cliAt(options.cliPath)
      : findCli("codex", "@openai/codex", options.env?.["PATH"] ?? process.env["PATH"] ?? "")
  const codexHome = configured(
    Effect.map(Config.option(Config.nonEmptyString("CODEX_HOME")), Option.getOrElse(() => join(homedir(), ".codex")))
  ).pipe(Effect.orDie)
  const notFound = "the codex CLI was not found on PATH and @openai/codex is not installed"

  const readiness = configured(Effect.gen(function*() {
    const binary = cli()
    if (binary === null) return { ready: false, detail: notFound }
    const setup = yield* openAiSetup({ codexLogin: true })
    return {
      ready: true,
      detail: `${binary.path}; ${describeSetup(setup)}` + (setup.credentialSource === null ? " (codex will ask to log in)" : "")
    }
  }))

  return makeNativeHarness({
    name: NAME,
    capabilities: CAPABILITIES,
    readiness,
    ...(options.stopGrace === undefined ? {} : { stopGrace: options.stopGrace }),
    ...(options.pollInterval === undefined ? {} : { pollInterval: options.pollInterval }),
    launch: (spec) =>
      configured(Effect.gen(function*() {
        const split = splitTetherArgs(NAME, spec.args)
        if (split instanceof HarnessError) return yield* split
        const binary = cli()
        if (binary === null) return yield* new HarnessError({ harness: NAME, reason: notFound })
        const setup = withBaseUrl(yield* openAiSetup({ codexLogin: true }), split.baseUrl)
        const sessionsRoot = join(yield* codexHome, "sessions")
        let cliArgs = [...split.cliArgs]
        const first = cliArgs[0]
        let resumedId: string | null = null
        if (first !== undefined && RESUMING.has(first)) {
          const id = cliArgs[1]
          resumedId = first === "resume" && id !== undefined && !id.startsWith("-") ? id : null
        } else if (spec.resumeId != null && spec.resumeId !== "") {
          resumedId = spec.resumeId
          cliArgs = ["resume", spec.resumeId, ...cliArgs]
        }
        if (spec.prompt !== null) cliArgs.push(spec.prompt)
        const startedAt = Date.now()
        const resumedPath = resumedId === null ? null : findRollout(sessionsRoot, resumedId)
        return {
          command: {
            command: binary.command,
            args: [...binary.prefix, ...providerFlags(setup), ...cliArgs],
            env: { ...options.env },
            promptHandled: true
          },
          transcript: codexTranscript({
            sessionsRoot,
            cwd: spec.cwd,
            startedAt,
            before: snapshotRollouts(sessionsRoot, startedAt),
            resumed: resumedId === null ? null : { id: resumedId, path: resumedPath, size: sizeNow(resumedPath) }
          })
        }
      }))
  })
}

export const codexNativeHarness: Harness = makeCodexNativeHarness()
