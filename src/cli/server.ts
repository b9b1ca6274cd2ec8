/**
 * `tether server run | start | status | stop | password | openapi`: the
 * server process on this machine. Heavy modules (SQL drivers, the HTTP
 * stack) load only inside the handlers that need them, keeping every other
 * command's cold start small.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { TetherHome } from "../services/home/TetherHome.js"
import { fetchOk, startDaemon, stopProcess } from "./daemon.js"
import { CliError } from "./errors.js"
import { printJson } from "./output.js"
import { readSecretFromStdin } from "./secret-input.js"

const STATE_FILE = "server.json"
const LOG_FILE = "server.log"

const hostOption = Options.text("host").pipe(
  Options.withDescription("address to listen on (default 127.0.0.1; use 0.0.0.0 to accept other machines)"),
  Options.withFallbackConfig(Config.string("TETHER_HOST")),
  Options.withDefault("127.0.0.1")
)

const portOption = Options.integer("port").pipe(
  Options.withDescription("TCP port (default 7337; 0 picks a free one)"),
  Options.withFallbackConfig(Config.integer("TETHER_PORT")),
  Options.withDefault(7337)
)

const checkPort = (port: number) =>
  port >= 0 && port <= 65535
    ? Effect.succeed(port)
    : Effect.fail(new CliError({ message: `--port must be between 0 and 65535, got ${port}`, exitCode: 2 }))

const loadStateFile = () => Effect.promise(() => import("../server/state-file.js"))

const formatDuration = (seconds: number): string => {
  const s = Math.floor(seconds)
  const [d, h, m] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60)]
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m ${s % 60}s` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`
}

const run = Command.make("run", { host: hostOption, port: portOption }, ({ host, port }) =>
  Effect.gen(function*() {
    yield* checkPort(port)
    const { serve } = yield* Effect.promise(() => import("../server/serve.js"))
    yield* serve({ host, port })
  })).pipe(Command.withDescription("run the server in the foreground (Ctrl-C stops it gracefully)"))

/**
 * Starts the server daemon unless one already runs for this TETHER_HOME;
 * returns its state (`alreadyRunning` tells which).
 */
export const startServerDaemon = (options: { readonly host: string; readonly port: number }) =>
  Effect.gen(function*() {
    yield* checkPort(options.port)
    const home = yield* TetherHome
    yield* home.ensure
    const { readServerState, isProcessAlive } = yield* loadStateFile()
    const statePath = home.path(STATE_FILE)
    const before = yield* readServerState(statePath)
    if (Option.isSome(before) && isProcessAlive(before.value.pid)) {
      return { ...before.value, alreadyRunning: true, logPath: home.path(LOG_FILE) }
    }
    // Set up the database and the password here, in the foreground, so a
    // generated password is shown to the person who started the server and
    // never lands in the daemon's log file.
    const { initializePassword } = yield* Effect.promise(() => import("../server/serve.js"))
    const { withLocalStorage } = yield* Effect.promise(() => import("../layers/local-storage.js"))
    yield* withLocalStorage(initializePassword)

    const logPath = home.path(LOG_FILE)
    const started = yield* startDaemon({
      args: ["server", "run", "--host", options.host, "--port", String(options.port)],
      logPath,
      what: "server",
      ready: (pid) =>
        Effect.gen(function*() {
          const state = yield* readServerState(statePath)
          if (Option.isNone(state) || state.value.pid !== pid) return undefined
          return (yield* fetchOk(`${state.value.url}/healthz`)) ? state.value : undefined
        })
    })
    return { ...started, alreadyRunning: false, logPath }
  })

const start = Command.make("start", { host: hostOption, port: portOption }, (options) =>
  Effect.gen(function*() {
    const server = yield* startServerDaemon(options)
    if (server.alreadyRunning) {
      yield* Console.log(`Tether server already running (pid ${server.pid}): ${server.url}`)
      return
    }
    yield* Console.log(`Tether server started (pid ${server.pid}): ${server.url}`)
    yield* Console.log(`log: ${server.logPath}`)
  })).pipe(Command.withDescription("start the server in the background and return once it is healthy"))

const jsonOption = Options.boolean("json").pipe(Options.withDescription("print JSON"))

const status = Command.make("status", { json: jsonOption }, ({ json }) =>
  Effect.gen(function*() {
    const home = yield* TetherHome
    const { readServerState, isProcessAlive } = yield* loadStateFile()
    const state = yield* readServerState(home.path(STATE_FILE))
    if (Option.isNone(state) || !isProcessAlive(state.value.pid)) {
      if (json) yield* printJson({ running: false })
      else yield* Console.log("Tether server is not running")
      return yield* new CliError({ message: "", exitCode: 3 })
    }
    const s = state.value
    const healthy = yield* fetchOk(`${s.url}/healthz`)
    const uptimeSeconds = Math.max(0, (Date.now() - s.startedAt) / 1000)
    if (json) {
      return yield* printJson({
        running: true,
        healthy,
        url: s.url,
        pid: s.pid,
        startedAt: new Date(s.startedAt).toISOString(),
        uptimeSeconds: Math.round(uptimeSeconds),
        version: s.version,
        database: s.database
      })
    }
    yield* Console.log(
      [
        `url:       ${s.url}`,
        `pid:       ${s.pid}`,
        `uptime:    ${formatDuration(uptimeSeconds)}`,
        `version:   ${s.version}`,
        `database:  ${s.database}`,
        `health:    ${healthy ? "ok" : "not answering"}`
      ].join("\n")
    )
  })).pipe(Command.withDescription("show whether the local server runs: url, pid, uptime, version, database"))

/** Stops the local server daemon (graceful), if one runs for this TETHER_HOME. */
export const stopServer = Effect.gen(function*() {
  const home = yield* TetherHome
  const { readServerState, isProcessAlive } = yield* loadStateFile()
  const state = yield* readServerState(home.path(STATE_FILE))
  if (Option.isNone(state) || !isProcessAlive(state.value.pid)) {
    yield* Console.log("Tether server is not running")
    return
  }
  yield* stopProcess(state.value.pid, "server")
  yield* Console.log(`Tether server stopped (pid ${state.value.pid})`)
})

const stop = Command.make("stop", {}, () => stopServer).pipe(Command.withDescription("stop the background server gracefully"))

const password = Command.make(
  "password",
  {
    passwordStdin: Options.boolean("password-stdin").pipe(
      Options.withDescription("read the new password from stdin instead of generating one")
    )
  },
  ({ passwordStdin }) =>
    Effect.gen(function*() {
      const next = passwordStdin ? Option.some(yield* readSecretFromStdin("password")) : Option.none()
      if (Option.isSome(next) && Redacted.value(next.value).length < 12) {
        return yield* new CliError({ message: "the management password must be at least 12 characters", exitCode: 2 })
      }
      const { rotatePasswordLocally } = yield* Effect.promise(() => import("../layers/local-storage.js"))
      const chosen = yield* rotatePasswordLocally(next)
      if (Option.isNone(next)) yield* Console.log(`New management password (shown once): ${Redacted.value(chosen)}`)
      else yield* Console.log("Management password changed.")
      yield* Console.log("Existing access tokens stay valid; revoke them with `tether tokens revoke` if needed.")
      const configured = yield* Config.string("TETHER_PASSWORD").pipe(Config.option)
      if (Option.isSome(configured)) {
        yield* Console.error("warning: TETHER_PASSWORD is set; the server resets the password to it on its next start")
      }
    })
).pipe(Command.withDescription("rotate the management password (on the server's machine, against its database)"))

const openapi = Command.make("openapi", {}, () =>
  Effect.gen(function*() {
    const { openApiDocument } = yield* Effect.promise(() => import("../server/openapi.js"))
    yield* printJson(openApiDocument())
  })).pipe(Command.withDescription("print the OpenAPI document of the HTTP API"))

export const serverCommand = Command.make("server").pipe(
  Command.withDescription("run and manage the Tether server on this machine"),
  Command.withSubcommands([run, start, status, stop, password, openapi])
)
