/**
 * Small pieces every agent-SDK harness shares: checking the working
 * directory, loading an SDK package only when a session needs it (the server
 * and the CLI never load them), and turning tool output into something a
 * `tool_result` event can carry.
 */
import * as Effect from "effect/Effect"
import { existsSync, readFileSync } from "node:fs"
import * as NodeFs from "node:fs/promises"
import { createRequire } from "node:module"
import { join } from "node:path"
import { HarnessError } from "../Harness.js"
import { describeError } from "./session-kit.js"

export const checkDirectory = (harness: string, cwd: string): Effect.Effect<void, HarnessError> =>
  Effect.tryPromise({
    try: () => NodeFs.stat(cwd),
    catch: (cause) => new HarnessError({ harness, reason: `working directory ${cwd} does not exist or cannot be read`, cause })
  }).pipe(
    Effect.filterOrFail(
      (stat) => stat.isDirectory(),
      () => new HarnessError({ harness, reason: `working directory ${cwd} is not a directory` })
    ),
    Effect.asVoid
  )

/** The file an ESM-only package's `exports` (or `module`/`main`) points `import` at. */
const entryOf = (manifest: unknown): string => {
  const pick = (target: unknown): string | undefined => {
    if (typeof target === "string") return target
    if (typeof target !== "object" || target === null) return undefined
    const conditions = target as Record<string, unknown>
    for (const key of [".", "import", "node", "default", "require"]) {
      const found = key in conditions ? pick(conditions[key]) : undefined
      if (found !== undefined) return found
    }
    return undefined
  }
  if (typeof manifest !== "object" || manifest === null) return "index.js"
  const fields = manifest as Record<string, unknown>
  return pick(fields["exports"]) ?? pick(fields["module"]) ?? pick(fields["main"]) ?? "index.js"
}

/** The `require` of this bundle, or one rooted at the working directory when running unbundled. */
const localRequire = (): NodeRequire => (typeof require === "function" ? require : createRequire(join(process.cwd(), "noop.js")))

/**
 * The directory a package is installed in, searched the way `require` would
 * from `from` (a file path; default: this program), or null when it is not
 * installed. Works for packages whose `exports` hide `package.json`.
 */
export const packageDir = (name: string, from?: string): string | null => {
  const load = from === undefined ? localRequire() : createRequire(from)
  for (const dir of load.resolve.paths(name) ?? []) {
    if (existsSync(join(dir, name, "package.json"))) return join(dir, name)
  }
  return null
}

/**
 * Loads a package's ESM entry with `require` (Node 20.19+ can require ES
 * modules without top-level await). The bundled CLI runs inside `vm.Script`,
 * where `import()` has no loader; its `require` (one per bundle) works.
 */
const requireEsm = (name: string): unknown => {
  const dir = packageDir(name)
  if (dir === null) throw new Error(`package ${name} is not installed`)
  return localRequire()(join(dir, entryOf(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")))))
}

/** Process events whose handlers decide how the runner ends; SDKs must not add their own. */
const LIFECYCLE_EVENTS = ["SIGTERM", "SIGINT", "SIGHUP", "beforeExit", "unhandledRejection", "uncaughtException"] as const

/**
 * Runs `load` and removes the process-wide lifecycle handlers it installed.
 * `@openai/agents` installs SIGTERM/SIGINT handlers for its trace exporter
 * on import that call `process.exit` once they are the last listener, which
 * would end the runner before it has stopped its sessions' processes. The
 * runner owns its lifecycle (and the harnesses disable tracing).
 */
const withoutLifecycleHooks = async <A>(load: () => Promise<A>): Promise<A> => {
  // As a plain emitter: the per-event overloads of `process` do not take a union of event names.
  const emitter: NodeJS.EventEmitter = process
  const before = new Map(LIFECYCLE_EVENTS.map((event) => [event, new Set(emitter.listeners(event))] as const))
  try {
    return await load()
  } finally {
    for (const event of LIFECYCLE_EVENTS) {
      const known = before.get(event)
      for (const listener of emitter.listeners(event)) {
        if (known?.has(listener) !== true) emitter.removeListener(event, listener as (...args: Array<unknown>) => void)
      }
    }
  }
}

/**
 * Loads a package with a dynamic `import()` (evaluated once, then cached by
 * Node), falling back to `require` where `import()` is unavailable, and
 * without the process lifecycle handlers the package installs. Fails with a
 * HarnessError saying which package could not be loaded.
 */
export const loadPackage = <A>(harness: string, name: string, load: () => Promise<A>): Effect.Effect<A, HarnessError> =>
  Effect.tryPromise({
    try: () =>
      withoutLifecycleHooks(() =>
        load().catch((error: unknown) => {
          const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined
          // The module's type is the one `load` imports; only the loading mechanism differs.
          if (code === "ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING") return requireEsm(name) as A
          throw error
        })
      ),
    catch: (cause) => new HarnessError({ harness, reason: `cannot load ${name}: ${describeError(cause)}`, cause })
  })

/** Tool output as plain text where it is text (strings, or arrays of `{type: "text", text}` blocks). */
export const toolOutput = (content: unknown): unknown => {
  if (typeof content === "string") return content
  if (Array.isArray(content)) {
    const texts = content.map((block: unknown) =>
      typeof block === "object" && block !== null && "type" in block && block.type === "text" && "text" in block &&
        typeof block.text === "string"
        ? block.text
        : null
    )
    if (texts.every((t): t is string => t !== null)) return texts.join("")
  }
  return content
}
