/**
 * Runs the server in this process until it is interrupted (SIGINT/SIGTERM)
 * or a loopback client asks it to stop: storage and migrations, the
 * management password, the HTTP listener, and the state file.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as NodeHttp from "node:http"
import { TETHER_VERSION } from "../domain/version.js"
import { ServerServicesLive } from "../layers/services.js"
import { StorageLive } from "../layers/storage.js"
import { TetherHome } from "../services/home/TetherHome.js"
import { ServerFacts, ServerLifecycle } from "../services/lifecycle/ServerLifecycle.js"
import { ManagementPassword } from "../services/password/ManagementPassword.js"
import { DatabaseInfo } from "../services/storage/DatabaseInfo.js"
import { TerminalRelay } from "../services/terminal/TerminalRelay.js"
import { tuneHeapGrowth } from "./heap-growth.js"
import { ApiRoutes } from "./router.js"
import { isProcessAlive, readServerState, removeServerState, writeServerState } from "./state-file.js"

export interface ListenOptions {
  readonly host: string
  readonly port: number
  /** Runs once the server listens (e.g. `tether up` starting its local host); its scope is the server's. */
  readonly onReady?: ((url: string) => Effect.Effect<void, unknown, Scope.Scope>) | undefined
}

export class ServerAlreadyRunning extends Data.TaggedError("ServerAlreadyRunning")<{
  readonly pid: number
  readonly url: string
}> {
  override get message() {
    return `a Tether server is already running for this TETHER_HOME (pid ${this.pid}, ${this.url}); stop it with \`tether server stop\``
  }
}

export class ListenFailed extends Data.TaggedError("ListenFailed")<{ readonly address: string; readonly cause: unknown }> {
  override get message() {
    const cause = this.cause as { cause?: { code?: string; message?: string }; message?: string } | undefined
    const detail = cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? String(this.cause)
    return `cannot listen on ${this.address}: ${detail}`
  }
}

export const formatUrl = (host: string, port: number): string =>
  `http://${host.includes(":") ? `[${host}]` : host}:${port}`

export const STATE_FILE = "server.json"

/** Sets the management password on first start (or from TETHER_PASSWORD) and prints a generated one once. */
export const initializePassword = Effect.gen(function*() {
  const configured = yield* Config.redacted("TETHER_PASSWORD").pipe(
    Config.option,
    Config.map(Option.filter((p) => Redacted.value(p).length > 0))
  )
  const outcome = yield* (yield* ManagementPassword).initialize(configured)
  if (outcome._tag === "Generated") {
    yield* Console.log(`Management password (shown once): ${Redacted.value(outcome.password)}`)
    yield* Console.log("Store it somewhere safe; rotate it with `tether server password`.")
  }
})

export const serve = (options: ListenOptions) =>
  Effect.gen(function*() {
    yield* tuneHeapGrowth
    const home = yield* TetherHome
    yield* home.ensure
    const statePath = home.path(STATE_FILE)
    const existing = yield* readServerState(statePath)
    if (Option.isSome(existing) && existing.value.pid !== process.pid && isProcessAlive(existing.value.pid)) {
      return yield* new ServerAlreadyRunning({ pid: existing.value.pid, url: existing.value.url })
    }

    const services = yield* Layer.build(
      Layer.mergeAll(ServerServicesLive, ServerLifecycle.Default).pipe(Layer.provideMerge(StorageLive))
    )
    const database = Context.get(services, DatabaseInfo)
    yield* initializePassword.pipe(Effect.provide(services))

    const address = formatUrl(options.host, options.port)
    const nodeServer = NodeHttp.createServer()
    const listener = NodeHttpServer.layer(() => nodeServer, { host: options.host, port: options.port }).pipe(
      Layer.mapError((cause) => new ListenFailed({ address, cause }))
    )
    const listening = yield* Layer.build(listener)
    const server = Context.get(listening, HttpServer.HttpServer)
    const url = server.address._tag === "TcpAddress"
      ? formatUrl(options.host, server.address.port)
      : server.address.path
    yield* Layer.build(
      HttpLayerRouter.serve(ApiRoutes, { disableListenLog: true, disableLogger: true }).pipe(
        Layer.provide(Layer.mergeAll(
          Layer.succeedContext(services),
          Layer.succeedContext(listening),
          ServerFacts.layer({ listen: url, database: database.kind })
        ))
      )
    )

    const lifecycle = Context.get(services, ServerLifecycle)
    // Runs before the routes and the listener are torn down (finalizers run
    // in reverse): stop accepting connections, end the streams that never
    // end by themselves, give responses a moment, then drop what is still
    // open, so closing the listener never waits on a client.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => nodeServer.close()).pipe(
        Effect.zipRight(lifecycle.beginStopping),
        // Terminal viewers and runner links hear why (1001) before their connections are dropped.
        Effect.zipRight(Context.get(services, TerminalRelay).closeAll),
        Effect.zipRight(Effect.sleep("250 millis")),
        Effect.zipRight(Effect.sync(() => nodeServer.closeAllConnections()))
      )
    )
    yield* writeServerState(statePath, {
      pid: process.pid,
      url,
      startedAt: lifecycle.startedAt,
      version: TETHER_VERSION,
      database: database.kind
    })
    yield* Effect.addFinalizer(() => removeServerState(statePath, process.pid))
    yield* Console.log(`Tether server listening on ${url}`)
    yield* Console.log(`database: ${database.kind} (${database.location})`)
    if (options.onReady !== undefined) yield* options.onReady(url)
    yield* lifecycle.awaitShutdown.pipe(Effect.onInterrupt(() => Console.log("Tether server stopping")))
    yield* Console.log("Tether server stopping")
  }).pipe(Effect.scoped)
