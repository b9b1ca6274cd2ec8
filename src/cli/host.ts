/**
 * `tether host [--name NAME] [--daemon]`, `tether host status | stop`: this
 * machine as a Tether host. It dials the active context's server with that
 * context's token (write scope or more) and runs the sessions bound to it,
 * with this machine's own credentials and files.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import { TETHER_VERSION } from "../domain/version.js"
import { TetherHome } from "../services/home/TetherHome.js"
import { writeFileAtomic } from "../services/files/atomic-write.js"
import { isProcessAlive, startDaemon, stopProcess } from "./daemon.js"
import { CliError } from "./errors.js"
import { printJson } from "./output.js"
import { resolveTarget, targetOptions } from "./target.js"

const STATE_FILE = "host.json"
const LOG_FILE = "host.log"

export const HostState = Schema.Struct({
  pid: Schema.Int,
  name: Schema.String,
  server: Schema.String,
  startedAt: Schema.Number,
  version: Schema.String
})
export type HostState = typeof HostState.Type

const decodeState = Schema.decodeUnknownOption(Schema.parseJson(HostState))

export const readHostState = (path: string): Option.Option<HostState> => {
  try {
    return decodeState(NodeFs.readFileSync(path, "utf8"))
  } catch {
    return Option.none()
  }
}

/** The machine's name as a valid host name. */
export const defaultHostName = (): string =>
  NodeOs.hostname().replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 63) || "host"

/** Starts `tether host` in the background for a server and token; returns once it is up. */
export const startHostDaemon = (options: {
  readonly name: string
  readonly contextName: string
  readonly server: string
  readonly token: Redacted.Redacted<string>
}) =>
  Effect.gen(function*() {
    const home = yield* TetherHome
    const statePath = home.path(STATE_FILE)
    return yield* startDaemon({
      args: ["host", "--name", options.name, "--context", options.contextName, "--server", options.server],
      // The token travels in the environment (private to this user), never on the command line.
      env: { TETHER_TOKEN: Redacted.value(options.token) },
      logPath: home.path(LOG_FILE),
      what: "host",
      ready: (pid) => Effect.sync(() => Option.getOrUndefined(Option.filter(readHostState(statePath), (s) => s.pid === pid)))
    })
  })

/** The running host daemon of this TETHER_HOME, if any. */
export const runningHost = Effect.map(TetherHome, (home) =>
  Option.filter(readHostState(home.path(STATE_FILE)), (s) => isProcessAlive(s.pid)))

const nameOption = Options.text("name").pipe(
  Options.withDescription("host name shown to clients (default: this machine's hostname)"),
  Options.optional
)

const run = Command.make(
  "host",
  {
    ...targetOptions,
    name: nameOption,
    daemon: Options.boolean("daemon").pipe(Options.withDescription("run in the background (log in TETHER_HOME/host.log)"))
  },
  (opts) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget(opts)
      if (Option.isNone(target.token)) {
        return yield* new CliError({
          message: `no access token for ${target.server}: run \`tether connect\` (a host needs write scope)`,
          exitCode: 4
        })
      }
      const name = Option.getOrElse(opts.name, defaultHostName)
      const home = yield* TetherHome
      yield* home.ensure
      const statePath = home.path(STATE_FILE)
      const running = readHostState(statePath)
      if (Option.isSome(running) && running.value.pid !== process.pid && isProcessAlive(running.value.pid)) {
        if (opts.daemon) {
          yield* Console.log(`Tether host "${running.value.name}" already running (pid ${running.value.pid}) for ${running.value.server}`)
          return
        }
        return yield* new CliError({
          message: `a Tether host already runs for this TETHER_HOME (pid ${running.value.pid}); stop it with \`tether host stop\``
        })
      }

      if (opts.daemon) {
        const started = yield* startHostDaemon({ name, contextName: target.contextName, server: target.server, token: target.token.value })
        yield* Console.log(`Tether host "${started.name}" started (pid ${started.pid}) for ${started.server}`)
        yield* Console.log(`log: ${home.path(LOG_FILE)}`)
        return
      }

      const { runHost } = yield* Effect.promise(() => import("../runner/host.js"))
      yield* writeFileAtomic(
        statePath,
        JSON.stringify({ pid: process.pid, name, server: target.server, startedAt: Date.now(), version: TETHER_VERSION }) + "\n",
        { mode: 0o600 }
      ).pipe(Effect.orDie)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          const current = readHostState(statePath)
          if (Option.isSome(current) && current.value.pid === process.pid) NodeFs.rmSync(statePath, { force: true })
        })
      )
      yield* Console.log(`Tether host "${name}" connecting to ${target.server}`)
      // Journals and supervised sessions survive a crash here; one directory per host name.
      const stateDir = home.path("runner", encodeURIComponent(name).replace(/^\.+$/, (dots) => "%2E".repeat(dots.length)))
      return yield* runHost({ serverUrl: target.server, token: target.token.value, hostName: name, stateDir }).pipe(
        Effect.mapError((stopped) =>
          stopped._tag === "TunnelProtocolMismatch" || stopped._tag === "TunnelSuperseded" || stopped._tag === "TunnelRejected"
            ? new CliError({ message: stopped.message })
            : new CliError({ message: `invalid configuration: ${String(stopped)}`, exitCode: 2 })
        )
      )
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("run sessions for the active server on this machine"))

const status = Command.make("status", { json: Options.boolean("json") }, ({ json }) =>
  Effect.gen(function*() {
    const state = yield* runningHost
    if (Option.isNone(state)) {
      if (json) yield* printJson({ running: false })
      else yield* Console.log("Tether host is not running")
      return yield* new CliError({ message: "", exitCode: 3 })
    }
    const s = state.value
    if (json) return yield* printJson({ running: true, ...s, startedAt: new Date(s.startedAt).toISOString() })
    yield* Console.log([
      `name:     ${s.name}`,
      `server:   ${s.server}`,
      `pid:      ${s.pid}`,
      `since:    ${new Date(s.startedAt).toISOString()}`,
      `version:  ${s.version}`
    ].join("\n"))
  })).pipe(Command.withDescription("show whether this machine's host runs"))

export const stopHost = Effect.gen(function*() {
  const state = yield* runningHost
  if (Option.isNone(state)) return yield* Console.log("Tether host is not running")
  yield* stopProcess(state.value.pid, "host")
  yield* Console.log(`Tether host stopped (pid ${state.value.pid})`)
})

const stop = Command.make("stop", {}, () => stopHost).pipe(
  Command.withDescription("stop the background host (its sessions' processes stop with it)")
)

export const hostCommand = run.pipe(Command.withSubcommands([status, stop]))
