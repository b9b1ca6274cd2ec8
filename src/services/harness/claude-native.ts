/**
 * The `claude-native` harness: the real `claude` CLI (Claude Code) in a PTY
 * through the terminal relay. `args` are Claude Code's own flags, passed
 * through untouched, plus the harness's `--tether-base-url URL` (an
 * Anthropic endpoint without `/v1`; sets `ANTHROPIC_BASE_URL` for this
 * session only). A first prompt is given to the CLI as its positional prompt.
 *
 * - Finding the CLI: `claude` on PATH, else `@anthropic-ai/claude-code`'s bin.
 * - Readiness: the CLI found; credentials (`ANTHROPIC_API_KEY`,
 *   `ANTHROPIC_AUTH_TOKEN`, or Claude Code's login file); the endpoint.
 * - Events: from Claude Code's session JSONL (see native/claude-transcript.ts),
 *   never from the screen. Unless the args choose a session (`--session-id`,
 *   `--resume`/`-r`, `--continue`/`-c`), the harness adds `--session-id
 *   <uuid>` so it knows which transcript is this session's.
 * - Interrupt: Ctrl-C typed into the PTY (Claude Code stops the running turn).
 * - Resume: a session adopted by a restarted runner runs `claude --resume
 *   <id>` with the last `agent_session` id, and follows the transcript that
 *   grows.
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import { homedir } from "node:os"
import { join } from "node:path"
import type { HarnessCapability } from "../../domain/host.js"
import { anthropicSetup, describeSetup, withBaseUrl } from "./agents/providers.js"
import { type Harness, HarnessError } from "./Harness.js"
import { claudeProjectDir, claudeTranscript, snapshotDirectory } from "./native/claude-transcript.js"
import { cliAt, findCli } from "./native/cli-binary.js"
import { flagValue, makeNativeHarness, splitTetherArgs, withEnvironment } from "./native/native-harness.js"

const NAME = "claude-native"
const CAPABILITIES: ReadonlyArray<HarnessCapability> = ["streaming", "interrupt", "resume", "terminal"]

export interface ClaudeNativeOptions {
  /** Environment for the CLI over the runner's own (also read for its settings). */
  readonly env?: Readonly<Record<string, string>>
  /** The CLI to run instead of looking for it (an absolute path). */
  readonly cliPath?: string
  readonly stopGrace?: Duration.DurationInput
  readonly pollInterval?: Duration.DurationInput
}

export const makeClaudeNativeHarness = (options: ClaudeNativeOptions = {}): Harness => {
  const configured = withEnvironment(options.env)
  const cli = () =>
    options.cliPath !== undefined
      ? cliAt(options.cliPath)
      : findCli("claude", "@anthropic-ai/claude-code", options.env?.["PATH"] ?? process.env["PATH"] ?? "")
  const configDir = configured(
    Effect.map(Config.option(Config.nonEmptyString("CLAUDE_CONFIG_DIR")), Option.getOrElse(() => join(homedir(), ".claude")))
  ).pipe(Effect.orDie)

  const readiness = configured(Effect.gen(function*() {
    const binary = cli()
    if (binary === null) {
      return { ready: false, detail: "the claude CLI was not found on PATH and @anthropic-ai/claude-code is not installed" }
    }
    const setup = yield* anthropicSetup
    return {
      ready: true,
      detail: `${binary.path}; ${describeSetup(setup)}` +
        (setup.credentialSource === null ? " (claude will ask to log in)" : "")
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
        if (binary === null) {
          return yield* new HarnessError({ harness: NAME, reason: "the claude CLI was not found on PATH and @anthropic-ai/claude-code is not installed" })
        }
        const setup = withBaseUrl(yield* anthropicSetup, split.baseUrl)
        const dir = yield* configDir
        const cliArgs = [...split.cliArgs]
        const chosen = flagValue(cliArgs, ["--session-id"])
        const resuming = flagValue(cliArgs, ["--resume", "-r", "--continue", "-c"]) !== null
        let sessionId: string | null = chosen === "" ? null : chosen
        if (chosen === null && !resuming) {
          if (spec.resumeId != null && spec.resumeId !== "") {
            cliArgs.unshift("--resume", spec.resumeId)
          } else {
            sessionId = randomUUID()
            cliArgs.unshift("--session-id", sessionId)
          }
        }
        if (spec.prompt !== null) cliArgs.push(spec.prompt)
        const before = snapshotDirectory(claudeProjectDir(dir, spec.cwd))
        return {
          command: {
            command: binary.command,
            args: [...binary.prefix, ...cliArgs],
            env: { ...options.env, ...(split.baseUrl === undefined ? {} : { ANTHROPIC_BASE_URL: setup.baseUrl }) },
            promptHandled: true
          },
          transcript: claudeTranscript({ configDir: dir, cwd: spec.cwd, sessionId, before })
        }
      }))
  })
}

export const claudeNativeHarness: Harness = makeClaudeNativeHarness()
