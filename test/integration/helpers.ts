/**
 * Small helpers shared by the end-to-end tests: they drive the bundled CLI
 * (`dist/tether.mjs`) against real server processes, so everything here is
 * about processes, ports and files rather than Effect values.
 */
import { isProcessAlive } from "../../src/server/state-file.js"
import { readFileSync, statSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { assert } from "vitest"
import { runCli, type RunCliOptions } from "../support/processes.js"

export type CliResult = Awaited<ReturnType<typeof runCli>>

/** Every access token the server issues: `tat_` and base62. */
export const ACCESS_TOKEN = /\btat_[A-Za-z0-9]{30,}\b/g

/** A port that was free a moment ago (bound to 127.0.0.1:0, then released). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned"))))
    })
  })

/** Runs the CLI and formats its result for assertion messages. */
export const describeRun = (args: ReadonlyArray<string>, result: CliResult): string =>
  `tether ${args.join(" ")} → exit ${result.code}${result.timedOut ? " (timed out)" : ""}\n` +
  `--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`

/** Runs `tether ...args` and asserts it exits 0. */
export const cliOk = async (args: ReadonlyArray<string>, options: RunCliOptions): Promise<CliResult> => {
  const result = await runCli(args, options)
  assert.strictEqual(result.code, 0, describeRun(args, result))
  return result
}

/** Runs `tether ...args --json` (the caller includes `--json`), asserts exit 0 and parses stdout. */
export const cliJson = async <A = unknown>(args: ReadonlyArray<string>, options: RunCliOptions): Promise<A> => {
  const result = await cliOk(args, options)
  try {
    return JSON.parse(result.stdout) as A
  } catch (error) {
    throw new Error(`stdout is not JSON (${String(error)})\n${describeRun(args, result)}`)
  }
}

/**
 * Runs `tether ...args`, asserts it fails with `code` (or any non-zero code)
 * and reports exactly one line on stderr starting `tether: `; returns that line.
 */
export const cliFails = async (
  args: ReadonlyArray<string>,
  code: number | "non-zero",
  options: RunCliOptions
): Promise<{ readonly line: string; readonly result: CliResult }> => {
  const result = await runCli(args, options)
  const context = describeRun(args, result)
  assert.isFalse(result.timedOut, context)
  if (code === "non-zero") {
    assert.isNumber(result.code, context)
    assert.notStrictEqual(result.code, 0, context)
  } else {
    assert.strictEqual(result.code, code, context)
  }
  const lines = result.stderr.split("\n").filter((l) => l.trim() !== "")
  const errorLines = lines.filter((l) => l.startsWith("tether: "))
  assert.strictEqual(errorLines.length, 1, `expected exactly one "tether: " line on stderr\n${context}`)
  return { line: errorLines[0] ?? "", result }
}

/** `tether connect 127.0.0.1 --port P --password-stdin ...extra` with `password` on stdin. */
export const connectArgs = (port: number, extra: ReadonlyArray<string> = []): Array<string> => [
  "connect",
  "127.0.0.1",
  "--port",
  String(port),
  "--password-stdin",
  ...extra
]

/** Permission bits of a file, e.g. 0o600. */
export const modeOf = (path: string): number => statSync(path).mode & 0o777

export const configPath = (home: string): string => join(home, "config.json")

/** The raw context file as JSON. */
export const readConfig = (home: string): {
  currentContext: string
  contexts: Record<string, { server: string; accessToken?: string; scope?: string }>
} => JSON.parse(readFileSync(configPath(home), "utf8"))

/** Every full access token in `text`. */
export const tokensIn = (text: string): Array<string> => [...text.matchAll(ACCESS_TOKEN)].map((m) => m[0])

/** `tat_ABCDEF…`: how the CLI shows a token it must not reveal. */
export const masked = (token: string): string => `${token.slice(0, 10)}…`

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes. */
export const waitUntil = async (what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Whether a process exists (the same check `tether server status` uses). */
export const isAlive = isProcessAlive

/** Rejects with `what` if `promise` does not settle within `timeoutMs`. */
export const within = <A>(what: string, timeoutMs: number, promise: Promise<A>): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs)
    })
  ]).finally(() => clearTimeout(timer))
}
