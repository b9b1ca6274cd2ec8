/**
 * Local mode: a server and a host on this machine behind the `default`
 * context, so `npm start` / `tether up` and `tether run` work with no set-up.
 *
 * - `tether up`: the server in the foreground plus a host as a child process;
 *   Ctrl-C stops both.
 * - `tether run` on the `default` context with nothing answering on
 *   localhost starts a server daemon and a host daemon first (reusing ones
 *   that run), then proceeds.
 * - `tether stop`: stops both daemons.
 *
 * The `default` context gets an admin token minted straight into the local
 * database (this machine owns it), so no password exchange is needed here.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as NodeOs from "node:os"
import { DEFAULT_CONTEXT_NAME } from "../domain/context-file.js"
import { DEFAULT_SERVER } from "../domain/server-url.js"
import { ContextRepo } from "../services/contexts/ContextRepo.js"
import type { TetherHome } from "../services/home/TetherHome.js"
import { childProcess, fetchOk } from "./daemon.js"
import { defaultHostName, runningHost, startHostDaemon, stopHost } from "./host.js"
import { withClient } from "./remote.js"
import { startServerDaemon } from "./server.js"
import type { Target } from "./target.js"

const LOCAL_HOST = "127.0.0.1"
const LOCAL_PORT = 7337

/**
 * A working admin token for the local server in the `default` context:
 * the saved one if the server accepts it, else a new one issued locally.
 */
export const ensureLocalToken = (server: string) =>
  Effect.gen(function*() {
    const repo = yield* ContextRepo
    const current = yield* repo.get(DEFAULT_CONTEXT_NAME)
    const saved = Option.fromNullable(current.context.accessToken).pipe(Option.map(Redacted.make))
    if (Option.isSome(saved)) {
      const valid = yield* withClient({ server, token: saved }, (client) => client.cli.whoami()).pipe(
        Effect.as(true),
        Effect.catchAll(() => Effect.succeed(false))
      )
      if (valid) return saved.value
    }
    const { issueTokenLocally } = yield* Effect.promise(() => import("../layers/local-storage.js"))
    const token = yield* issueTokenLocally({ name: `local cli (${NodeOs.userInfo().username}@${NodeOs.hostname()})`, scope: "admin" })
    yield* repo.upsert(DEFAULT_CONTEXT_NAME, { ...current.context, accessToken: Redacted.value(token), scope: "admin" })
    return token
  })

/** For `tether run` and friends: make sure the local server and host run when the default context is used. */
export const ensureLocalStack = (target: Target) =>
  Effect.gen(function*() {
    if (target.contextName !== DEFAULT_CONTEXT_NAME || target.server !== DEFAULT_SERVER) return target
    if (yield* fetchOk(`${target.server}/healthz`)) {
      if (Option.isSome(target.token)) return target
    } else {
      const server = yield* startServerDaemon({ host: LOCAL_HOST, port: LOCAL_PORT })
      yield* Console.error(`started a local Tether server (pid ${server.pid}): ${server.url}`)
    }
    const token = Option.isSome(target.token) ? target.token.value : yield* ensureLocalToken(target.server)
    if (Option.isNone(yield* runningHost)) {
      const host = yield* startHostDaemon({ name: defaultHostName(), contextName: DEFAULT_CONTEXT_NAME, server: target.server, token })
      yield* Console.error(`started a local Tether host "${host.name}" (pid ${host.pid})`)
    }
    return { ...target, token: Option.some(token) }
  })

export const upCommand = Command.make(
  "up",
  {
    port: Options.integer("port").pipe(Options.withDefault(LOCAL_PORT)),
    name: Options.text("name").pipe(Options.withDescription("the local host's name"), Options.optional)
  },
  ({ name, port }) =>
    Effect.gen(function*() {
      const { serve } = yield* Effect.promise(() => import("../server/serve.js"))
      const hostName = Option.getOrElse(name, defaultHostName)
      const context = yield* Effect.context<ContextRepo | TetherHome>()
      yield* serve({
        host: LOCAL_HOST,
        port,
        onReady: (url) =>
          Effect.gen(function*() {
            const server = port === LOCAL_PORT ? DEFAULT_SERVER : url
            const token = yield* ensureLocalToken(server)
            const { spawn } = yield* childProcess
            const child = yield* Effect.acquireRelease(
              Effect.sync(() =>
                spawn(process.execPath, [process.argv[1] as string, "host", "--name", hostName, "--server", server], {
                  stdio: ["ignore", "inherit", "inherit"],
                  env: { ...process.env, TETHER_TOKEN: Redacted.value(token) }
                })
              ),
              (child) =>
                Effect.async<void>((resume) => {
                  if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
                  child.once("exit", () => resume(Effect.void))
                  child.kill("SIGTERM")
                })
            )
            child.once("exit", (code) => {
              if (code !== 0 && code !== null) process.stderr.write(`tether: the local host exited with code ${code}\n`)
            })
            yield* Console.log(`local host "${hostName}" started; try: tether run -- bash (a terminal you can also open in the browser)`)
          }).pipe(Effect.provide(context))
      })
    })
).pipe(Command.withDescription("run a local server and a local host in the foreground (what `npm start` runs)"))

export const stopCommand = Command.make("stop", {}, () =>
  Effect.gen(function*() {
    yield* stopHost
    const { stopServer } = yield* Effect.promise(() => import("./server.js"))
    yield* stopServer
  })).pipe(Command.withDescription("stop the local host and server daemons"))

