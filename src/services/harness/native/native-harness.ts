/**
 * The shape both native agent harnesses share: a vendor CLI run in a PTY by
 * the terminal harness (relay, input, interrupt as Ctrl-C, stop), plus the
 * CLI's own transcript followed for `message` / `tool_call` / `tool_result`
 * / `usage` / `agent_session` events. Each harness only says how to launch
 * its CLI for a session (`launch`) and how ready this host is.
 *
 * Harness arguments are the CLI's own flags, passed through untouched,
 * except the harness's own `--tether-base-url URL` (or `=URL`), which
 * `splitTetherArgs` takes out before the CLI sees them.
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { HarnessCapability } from "../../../domain/host.js"
import { type Harness, HarnessError, type HarnessReadiness, type HarnessStartSpec } from "../Harness.js"
import { makeTerminalHarness, type PreparedCommand } from "../terminal.js"
import { tailTranscript, type TranscriptSource } from "./transcript-tail.js"

export interface NativeLaunch {
  readonly command: PreparedCommand
  /** The transcript to follow, or null when this mode writes none. */
  readonly transcript: TranscriptSource | null
}

export interface NativeHarnessDefinition {
  readonly name: string
  readonly capabilities: ReadonlyArray<HarnessCapability>
  readonly readiness: Effect.Effect<HarnessReadiness>
  /** Decides the command line, environment and transcript of one session (before the CLI starts). */
  readonly launch: (spec: HarnessStartSpec) => Effect.Effect<NativeLaunch, HarnessError>
  readonly stopGrace?: Duration.DurationInput
  /** How often the transcript is polled. Default 200 ms. */
  readonly pollInterval?: Duration.DurationInput
}

/** Between typing a message and pressing Enter: both CLIs take text and Enter in one write as a paste. */
const SUBMIT_DELAY = "250 millis"

export const makeNativeHarness = (definition: NativeHarnessDefinition): Harness => ({
  name: definition.name,
  capabilities: definition.capabilities,
  readiness: definition.readiness,
  start: (spec) =>
    Effect.gen(function*() {
      const launch = yield* definition.launch(spec)
      const terminal = makeTerminalHarness({
        name: definition.name,
        submitDelay: SUBMIT_DELAY,
        ...(definition.stopGrace === undefined ? {} : { stopGrace: definition.stopGrace }),
        prepare: () => Effect.succeed(launch.command),
        onStarted: (session) =>
          launch.transcript === null
            ? Effect.succeed({ drain: Effect.void })
            : tailTranscript(launch.transcript, session.emit, {
              ...(definition.pollInterval === undefined ? {} : { interval: definition.pollInterval })
            })
      })
      return yield* terminal.start(spec)
    })
})

export interface TetherArgs {
  /** `--tether-base-url`, when given. */
  readonly baseUrl: string | undefined
  /** Everything else, for the CLI, in order. */
  readonly cliArgs: ReadonlyArray<string>
}

/** Takes the harness's own `--tether-base-url` out of the session's args; a bad value is a HarnessError. */
export const splitTetherArgs = (harness: string, args: ReadonlyArray<string>): TetherArgs | HarnessError => {
  const cliArgs: Array<string> = []
  let baseUrl: string | undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    if (arg === "--") {
      cliArgs.push(...args.slice(i))
      break
    }
    if (arg !== "--tether-base-url" && !arg.startsWith("--tether-base-url=")) {
      cliArgs.push(arg)
      continue
    }
    if (baseUrl !== undefined) return new HarnessError({ harness, reason: "--tether-base-url given twice" })
    const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[++i]
    if (value === undefined || !/^https?:\/\/[^\s/]+/.test(value)) {
      return new HarnessError({ harness, reason: `--tether-base-url needs an http(s) URL, not ${JSON.stringify(value ?? "")}` })
    }
    baseUrl = value.replace(/\/+$/, "")
  }
  return { baseUrl, cliArgs }
}

/** The value of a CLI flag (`--flag V` or `--flag=V`, any of `names`), or null when absent. */
export const flagValue = (args: ReadonlyArray<string>, names: ReadonlyArray<string>): string | null => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    if (arg === "--") return null
    for (const name of names) {
      if (arg === name) {
        const next = args[i + 1]
        return next !== undefined && !next.startsWith("-") ? next : ""
      }
      if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1)
    }
  }
  return null
}

/**
 * Runs `effect` reading `env` first and the ambient configuration after it:
 * a harness built with an explicit environment (tests, a runner pointing a
 * CLI somewhere) sees the same values the CLI will.
 */
export const withEnvironment = (env: Readonly<Record<string, string>> | undefined) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  env === undefined ? effect : Effect.flatMap(
    Effect.configProviderWith(Effect.succeed),
    (ambient) =>
      Effect.withConfigProvider(
        effect,
        ConfigProvider.orElse(ConfigProvider.fromMap(new Map(Object.entries(env))), () => ambient)
      )
  )
