/**
 * Helpers for the web UI tests:
 *  - `buildWebApp()` builds web/ with Vite into a fresh temporary directory
 *    (once per test file) so the tests always serve the current source;
 *  - `startWebServer()` runs the real routes, services and static files
 *    in-process on a real 127.0.0.1 port over a fresh SQLite file;
 *  - `launchChromium()` starts Debian's Chromium (/usr/bin/chromium) through
 *    playwright-core, headless; no browser is ever downloaded;
 *  - `artifactPath()` names screenshot files under test-artifacts/web/.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { createServer, type IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { type Browser, chromium } from "playwright-core"
import { ServerServicesLive } from "../../src/layers/services.js"
import { ServerFacts, ServerLifecycle } from "../../src/services/lifecycle/ServerLifecycle.js"
import { ManagementPassword } from "../../src/services/password/ManagementPassword.js"
import { ApiRoutes } from "../../src/server/router.js"
import { TEST_PASSWORD } from "../support/api-server.js"
import { sqliteTestLayer } from "../support/databases.js"

export { TEST_PASSWORD }

export const repoRoot = resolve(import.meta.dirname, "../..")
export const CHROMIUM = "/usr/bin/chromium"
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

let built: Promise<string> | undefined

/** Builds the web app into a temporary directory (once per process) and returns that directory. */
export const buildWebApp = (): Promise<string> =>
  (built ??= (async () => {
    const outDir = mkdtempSync(join(tmpdir(), "tether-web-"))
    process.once("exit", () => rmSync(outDir, { recursive: true, force: true }))
    const { build } = await import("vite")
    await build({ configFile: join(repoRoot, "web/vite.config.ts"), build: { outDir }, logLevel: "error" })
    return outDir
  })())

/** Claims an HTTP upgrade before the server's router sees it (returns false to pass it on). */
export type UpgradeInterceptor = (request: IncomingMessage, socket: Duplex, head: Buffer) => boolean

const nodeServer = (intercept: UpgradeInterceptor | undefined) => () => {
  const server = createServer()
  if (intercept !== undefined) {
    const emit = server.emit.bind(server) as (event: string, ...args: Array<unknown>) => boolean
    server.emit = ((event: string, ...args: Array<unknown>) => {
      if (event === "upgrade" && intercept(args[0] as IncomingMessage, args[1] as Duplex, args[2] as Buffer)) return true
      return emit(event, ...args)
    }) as typeof server.emit
  }
  return server
}

const serverLayer = (intercept?: UpgradeInterceptor) => {
  const services = Layer.mergeAll(ServerServicesLive, ServerLifecycle.Default).pipe(Layer.provideMerge(sqliteTestLayer()))
  const withPassword = Layer.effectDiscard(
    Effect.flatMap(ManagementPassword, (p) => p.initialize(Option.some(Redacted.make(TEST_PASSWORD))))
  ).pipe(Layer.provideMerge(services))
  return HttpLayerRouter.serve(ApiRoutes, { disableListenLog: true, disableLogger: true }).pipe(
    Layer.provide(ServerFacts.layer({ listen: "test", database: "sqlite" })),
    Layer.provideMerge(withPassword),
    Layer.provideMerge(NodeHttpServer.layer(nodeServer(intercept), { host: "127.0.0.1", port: 0 })),
    Layer.provide(NodeSocket.layerWebSocketConstructor)
  )
}

export type WebServerRuntime = ManagedRuntime.ManagedRuntime<Layer.Layer.Success<ReturnType<typeof serverLayer>>, unknown>

export interface WebServer {
  readonly url: string
  /** Runs an effect against the server's services (seeding sessions, issuing tokens …). */
  readonly runtime: WebServerRuntime
  stop(): Promise<void>
}

/**
 * The real server in-process on 127.0.0.1 (ephemeral port), serving the web
 * build from `webRoot` (via TETHER_WEB_ROOT, read when the routes are built).
 */
export const startWebServer = async (webRoot: string, intercept?: UpgradeInterceptor): Promise<WebServer> => {
  process.env["TETHER_WEB_ROOT"] = webRoot
  const runtime: WebServerRuntime = ManagedRuntime.make(serverLayer(intercept))
  const address = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (server) => server.address))
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return { url: `http://127.0.0.1:${address.port}`, runtime, stop: () => runtime.dispose() }
}

export const launchChromium = (): Promise<Browser> => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`)
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 })
}

/** test-artifacts/web/<name>.png (created on demand; gitignored). */
export const artifactPath = (name: string): string => {
  const dir = join(repoRoot, "test-artifacts", "web")
  mkdirSync(dir, { recursive: true })
  return join(dir, `${name}.png`)
}

export const PHONE = { width: 390, height: 844 } as const
export const DESKTOP = { width: 1280, height: 800 } as const
