/**
 * Serves the web UI (built by Vite into `dist/web`) at `/`.
 *
 * The files are read once when the routes are built and served from memory:
 * only names that exist in the build are ever answered, so no request path
 * reaches the file system. Every response carries a strict
 * Content-Security-Policy (no inline scripts or styles, no third-party
 * origins, no framing), `X-Content-Type-Options: nosniff` and
 * `Referrer-Policy: no-referrer`. Hashed files under `/assets/` are cached for
 * a year; `index.html` is revalidated every time.
 *
 * Client-side routes (`/sessions/…`, `/hosts` …) answer with `index.html` so
 * a reload or a shared link opens the right page. Every route here is public
 * (the page itself holds no data; the API checks credentials) and GET only:
 * `WEB_ROUTES` lists them for the route-rule test.
 *
 * The build is found, in order, at `TETHER_WEB_ROOT`, next to the running
 * bundle (`dist/tether.cjs` → `dist/web`), or at `dist/web` of the source
 * tree (tests running from source). Without a build, `/` explains how to make
 * one (503).
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { extname, join, relative, resolve, sep } from "node:path"
import type { RouteRule } from "../../domain/route-rule.js"
import { Public } from "../../domain/route-rule.js"

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "style-src 'self'",
  "script-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'"
].join("; ")

/** Pages of the single-page app; each answers with index.html. */
export const CLIENT_ROUTES: ReadonlyArray<`/${string}`> = [
  "/",
  "/login",
  "/sessions",
  "/sessions/*",
  "/new",
  "/hosts",
  "/tokens",
  "/audit",
  "/providers",
  "/models",
  "/keys"
]

/** Every route this module adds, with its access rule (all public, GET only). */
export const WEB_ROUTES: ReadonlyArray<{ readonly method: "GET"; readonly path: string; readonly rule: RouteRule }> = [
  ...CLIENT_ROUTES,
  "/assets/*",
  "/favicon.svg"
].map((path) => ({ method: "GET", path, rule: Public }))

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8"
}

const SECURITY_HEADERS = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY"
} as const

interface StaticFile {
  readonly body: Uint8Array
  readonly contentType: string
}

/** Where the built app may be, most specific first. */
const candidateRoots = (configured: Option.Option<string>): ReadonlyArray<string> => {
  const here = typeof __dirname === "string" ? __dirname : undefined
  return [
    ...Option.toArray(configured),
    ...(here === undefined ? [] : [join(here, "web"), resolve(here, "../../../dist/web")]),
    resolve(process.cwd(), "dist/web")
  ]
}

/** Reads every file of the build into memory, keyed by URL path (`/assets/index-abc.js`). */
export const loadWebRoot = (root: string): ReadonlyMap<string, StaticFile> => {
  const files = new Map<string, StaticFile>()
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else {
        const urlPath = "/" + relative(root, path).split(sep).join("/")
        files.set(urlPath, {
          body: readFileSync(path),
          contentType: CONTENT_TYPES[extname(name).toLowerCase()] ?? "application/octet-stream"
        })
      }
    }
  }
  walk(root)
  return files
}

export const findWebRoot = (configured: Option.Option<string>): Option.Option<string> =>
  Option.fromNullable(candidateRoots(configured).find((root) => existsSync(join(root, "index.html"))))

const notBuilt = HttpServerResponse.text(
  "The web UI is not built. Run `npm run build` (or set TETHER_WEB_ROOT to a built dist/web).\n",
  { status: 503, headers: { ...SECURITY_HEADERS, "cache-control": "no-store" } }
)

const serveFile = (file: StaticFile, cache: string) =>
  HttpServerResponse.uint8Array(file.body, {
    contentType: file.contentType,
    headers: { ...SECURITY_HEADERS, "cache-control": cache }
  })

const notFound = HttpServerResponse.text("not found\n", {
  status: 404,
  headers: { ...SECURITY_HEADERS, "cache-control": "no-store" }
})

/** The static routes, built from the files found at startup. */
export const WebRoutes = HttpLayerRouter.use((router) =>
  Effect.gen(function*() {
    const configured = yield* Config.option(Config.string("TETHER_WEB_ROOT")).pipe(Effect.orDie)
    const root = findWebRoot(configured)
    const files = Option.match(root, { onNone: () => new Map<string, StaticFile>(), onSome: loadWebRoot })
    const index = files.get("/index.html")
    if (Option.isSome(root)) yield* Effect.logDebug(`web UI from ${root.value}`)

    const page = index === undefined ? notBuilt : serveFile(index, "no-cache")
    const asset = (request: HttpServerRequest.HttpServerRequest) => {
      const path = request.url.split("?")[0] ?? ""
      const file = files.get(decodeURIComponent(path))
      return Effect.succeed(file === undefined ? notFound : serveFile(file, "public, max-age=31536000, immutable"))
    }
    for (const path of CLIENT_ROUTES) yield* router.add("GET", path, page)
    yield* router.add("GET", "/assets/*", (request) => Effect.suspend(() => asset(request)).pipe(Effect.catchAllDefect(() => Effect.succeed(notFound))))
    const favicon = files.get("/favicon.svg")
    yield* router.add("GET", "/favicon.svg", favicon === undefined ? notFound : serveFile(favicon, "public, max-age=86400"))
  })
)
