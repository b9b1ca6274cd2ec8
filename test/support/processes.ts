/**
 * Spawn helpers for integration tests: run the bundled CLI (`dist/tether.mjs`,
 * built by `npm run build`), start a real server, make throwaway TETHER_HOMEs.
 *
 * Everything is bounded by a timeout, and anything still alive when the test
 * process exits is killed (servers) or removed (temp homes).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** Absolute path of the bundled CLI. */
export const cliPath: string = fileURLToPath(new URL("../../dist/tether.mjs", import.meta.url))

const MAX_OUTPUT_CHARS = 10 * 1024 * 1024

export interface RunOptions {
  /** The complete environment of the child (nothing is inherited implicitly). */
  readonly env?: Readonly<Record<string, string>>
  /** Written to stdin, which is then closed. Without it stdin is closed at once. */
  readonly input?: string
  /** Killed (SIGKILL, whole process group) after this long. Default 20 s. */
  readonly timeoutMs?: number
  readonly cwd?: string
}

export interface RunResult {
  /** Exit code, or `null` when the process was killed by a signal (e.g. on timeout). */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

/** Sends `signal` to the child's process group (it was spawned detached), falling back to the child. */
const killGroup = (child: ChildProcess, signal: NodeJS.Signals): void => {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      child.kill(signal)
    } catch {
      // already gone
    }
  }
}

// Children still running when the test process exits are killed (synchronously: "exit" handlers cannot wait).
const liveChildren = new Set<ChildProcess>()
const liveTempDirs = new Set<string>()
let exitHookInstalled = false
const installExitHook = (): void => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const child of liveChildren) killGroup(child, "SIGKILL")
    for (const dir of liveTempDirs) rmSync(dir, { recursive: true, force: true })
  })
}

const track = (child: ChildProcess): void => {
  installExitHook()
  liveChildren.add(child)
  child.once("exit", () => liveChildren.delete(child))
}

const appendBounded = (current: string, chunk: string): string =>
  current.length >= MAX_OUTPUT_CHARS ? current : (current + chunk).slice(0, MAX_OUTPUT_CHARS)

/**
 * Runs a command to completion, collecting its output. Never rejects for a
 * non-zero exit; rejects only if the command cannot be spawned at all.
 */
export const run = (command: string, args: ReadonlyArray<string>, options: RunOptions = {}): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      env: options.env ?? {},
      cwd: options.cwd,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true
    })
    track(child)
    let stdout = ""
    let stderr = ""
    let timedOut = false
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout = appendBounded(stdout, chunk)))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = appendBounded(stderr, chunk)))
    child.stdin.on("error", () => {}) // EPIPE when the child exits without reading
    child.stdin.end(options.input)
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child, "SIGKILL")
    }, options.timeoutMs ?? 20_000)
    child.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, timedOut })
    })
  })

const assertBuilt = (): void => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first`)
}

/**
 * The environment of a CLI or server child: only PATH, HOME and TMPDIR from
 * the parent (so no TETHER_* or other settings leak in), TETHER_HOME, then `extra`.
 */
export const childEnv = (home: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const key of ["PATH", "HOME", "TMPDIR"]) {
    const value = process.env[key]
    if (value !== undefined) env[key] = value
  }
  env["TETHER_HOME"] = home
  return { ...env, ...extra }
}

export interface RunCliOptions {
  /** TETHER_HOME of the run (see `freeTempHome`); also the working directory unless `cwd` is given. */
  readonly home: string
  /** Extra environment variables (applied last). */
  readonly env?: Readonly<Record<string, string>>
  readonly input?: string
  /** Default 20 s. */
  readonly timeoutMs?: number
  readonly cwd?: string
}

/** Runs `node dist/tether.mjs ...args` with a clean environment and `TETHER_HOME=home`. */
export const runCli = (
  args: ReadonlyArray<string>,
  options: RunCliOptions
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> => {
  assertBuilt()
  return run(process.execPath, [cliPath, ...args], {
    env: childEnv(options.home, options.env),
    cwd: options.cwd ?? options.home,
    timeoutMs: options.timeoutMs ?? 20_000,
    ...(options.input === undefined ? {} : { input: options.input })
  })
}

export interface StartServerOptions {
  readonly home: string
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Default 0 (ephemeral; the actual port is parsed from the listening line). */
  readonly port?: number
  readonly env?: Readonly<Record<string, string>>
  /** Extra arguments after `server run --host H --port P`. */
  readonly args?: ReadonlyArray<string>
  /** How long to wait for the listening line. Default 20 s. */
  readonly readyTimeoutMs?: number
}

export interface RunningServer {
  /** e.g. `http://127.0.0.1:41234`, exactly as printed by the server. */
  readonly url: string
  readonly port: number
  /**
   * The password from `Management password (shown once): <password>`, if the
   * server printed one before (or together with) its listening line.
   */
  readonly password: string | undefined
  readonly pid: number
  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code (`null` if killed by a signal). Idempotent. */
  stop(): Promise<number | null>
  /** Resolves with the exit code once the process exits on its own (or is stopped); never sends a signal. */
  readonly exited: Promise<number | null>
}

const LISTENING = /Tether server listening on (http:\/\/\S+)/
const PASSWORD = /Management password \(shown once\): (\S+)/

/**
 * Spawns `node dist/tether.mjs server run --host H --port P` and resolves once
 * it prints `Tether server listening on http://HOST:PORT`. Rejects (with the
 * output so far) if it exits first or is not ready in time.
 */
export const startServer = (options: StartServerOptions): Promise<RunningServer> => {
  assertBuilt()
  const host = options.host ?? "127.0.0.1"
  const port = options.port ?? 0
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000
  const child = spawn(
    process.execPath,
    [cliPath, "server", "run", "--host", host, "--port", String(port), ...(options.args ?? [])],
    { env: childEnv(options.home, options.env), cwd: options.home, stdio: ["ignore", "pipe", "pipe"], detached: true }
  )
  track(child)

  let output = ""
  let stdoutLines = ""
  let password: string | undefined
  let exitCode: number | null | undefined
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      exitCode = code
      resolve(code)
    })
  )

  return new Promise<RunningServer>((resolve, reject) => {
    let settled = false
    const fail = (reason: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      killGroup(child, "SIGKILL")
      reject(new Error(`tether server ${reason}\n--- output ---\n${output}`))
    }
    const timer = setTimeout(() => fail(`not listening after ${readyTimeoutMs} ms`), readyTimeoutMs)

    child.once("error", (error) => fail(`could not be spawned: ${error.message}`))
    void exited.then((code) => fail(`exited with ${code ?? child.signalCode} before listening`))

    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output = appendBounded(output, chunk)))
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output = appendBounded(output, chunk)
      if (settled && password !== undefined) return
      stdoutLines = appendBounded(stdoutLines, chunk)
      password ??= PASSWORD.exec(stdoutLines)?.[1]
      if (settled) return
      const url = LISTENING.exec(stdoutLines)?.[1]
      if (url === undefined) return
      settled = true
      clearTimeout(timer)

      let stopping: Promise<number | null> | undefined
      const stop = (): Promise<number | null> =>
        (stopping ??= (async () => {
          if (exitCode !== undefined) return exitCode
          killGroup(child, "SIGTERM")
          const killer = setTimeout(() => killGroup(child, "SIGKILL"), 10_000)
          const code = await exited
          clearTimeout(killer)
          return code
        })())

      resolve({
        url,
        port: Number(new URL(url).port),
        get password() {
          return password
        },
        pid: child.pid ?? -1,
        output: () => output,
        stop,
        exited
      })
    })
  })
}

export interface TempHome {
  readonly dir: string
  /** Removes the directory. Idempotent. */
  cleanup(): Promise<void>
}

/** A fresh, empty directory (mode 0700) for TETHER_HOME; removed on `cleanup()` or at process exit. */
export const freeTempHome = (): TempHome => {
  installExitHook()
  const dir = mkdtempSync(join(tmpdir(), "tether-test-"))
  liveTempDirs.add(dir)
  return {
    dir,
    cleanup: async () => {
      liveTempDirs.delete(dir)
      await rm(dir, { recursive: true, force: true })
    }
  }
}
