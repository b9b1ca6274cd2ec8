/**
 * A command run under a small POSIX `sh` supervisor that outlives the runner
 * process, with everything it needs kept in the session's directory:
 *
 * - `stdin`: a FIFO. The supervisor opens it read-write (so it never sees
 *   end-of-file or blocks while no runner is attached) and gives it to the
 *   command as standard input; a runner writes user input into it.
 * - `stdout`, `stderr`: spool files the command appends to; the runner reads
 *   them from its recorded positions.
 * - `pgid`: the supervisor's pid, which is also the process group id of the
 *   session (it is spawned detached, i.e. in a new session and group), so
 *   interrupt/stop can signal the whole group from any runner process.
 * - `exit`: the command's exit status (`$?`: 128+N when killed by signal N),
 *   written to a temporary file and renamed, so readers see it whole.
 *
 * The supervisor catches SIGINT/SIGTERM/SIGHUP (caught, not ignored, so the
 * command keeps the default actions) and records the status after the
 * command ends. Files are created with umask 077. If the supervisor itself is
 * SIGKILLed, no `exit` appears and the session's exit is unknown.
 */
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { HarnessError } from "../Harness.js"

export const SupervisorFiles = {
  stdin: "stdin",
  stdout: "stdout",
  stderr: "stderr",
  pgid: "pgid",
  exit: "exit"
} as const

const SCRIPT = [
  "umask 077",
  "d=$1; shift",
  "mkfifo \"$d/stdin\" || exit 126",
  "exec 3<>\"$d/stdin\"",
  "trap : INT TERM HUP",
  ": >>\"$d/stdout\"; : >>\"$d/stderr\"",
  "printf '%s\\n' \"$$\" >\"$d/pgid.tmp\" && mv -f \"$d/pgid.tmp\" \"$d/pgid\"",
  // In a subshell, so the supervisor's own job-status messages ("Terminated") stay out of the spool.
  "( exec \"$@\" <&3 3<&- >>\"$d/stdout\" 2>>\"$d/stderr\" )",
  "code=$?",
  "printf '%s\\n' \"$code\" >\"$d/exit.tmp\" && mv -f \"$d/exit.tmp\" \"$d/exit\""
].join("\n")

const harnessError = (reason: string, cause?: unknown) => new HarnessError({ harness: "shell", reason, cause })

const errnoCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined

/**
 * Whether the process `pid` runs. A zombie does not count: after a runner
 * crash the supervisor's new parent may be slow to reap it (Linux: read from
 * /proc; elsewhere a zombie counts until it is reaped).
 */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return errnoCode(error) === "EPERM"
  }
  try {
    const stat = NodeFs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return true // no /proc: kill(0) is all we know
  }
}

/** Sends a signal to the process group `pgid`; a group that is gone is fine. */
export const signalGroup = (pgid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(-pgid, signal)
  } catch {
    // ESRCH: nothing left in the group.
  }
}

const readInt = (path: string): number | null => {
  try {
    const value = Number.parseInt(NodeFs.readFileSync(path, "utf8").trim(), 10)
    return Number.isSafeInteger(value) ? value : null
  } catch {
    return null
  }
}

/** The supervisor's pid (= the session's process group), if it recorded it. */
export const readPgid = (dir: string): number | null => {
  const pgid = readInt(NodePath.join(dir, SupervisorFiles.pgid))
  return pgid !== null && pgid > 1 ? pgid : null
}

/** The command's recorded exit status (`$?`), or null while it runs (or when it was never recorded). */
export const readExitStatus = (dir: string): number | null => readInt(NodePath.join(dir, SupervisorFiles.exit))

/**
 * Checks that `command` can be executed from `cwd` (as `execvp` would find
 * it), so a missing or non-executable command fails `start` with a clear
 * reason instead of a 127 from the supervisor.
 */
export const checkCommand = (command: string, cwd: string): Effect.Effect<void, HarnessError> =>
  Effect.suspend(() => {
    const candidates = command.includes("/")
      ? [NodePath.resolve(cwd, command)]
      : (process.env["PATH"] ?? "/usr/bin:/bin").split(":").map((dir) => NodePath.resolve(cwd, dir === "" ? "." : dir, command))
    let denied = false
    for (const candidate of candidates) {
      try {
        if (!NodeFs.statSync(candidate).isFile()) continue
        NodeFs.accessSync(candidate, NodeFs.constants.X_OK)
        return Effect.void
      } catch (error) {
        if (errnoCode(error) === "EACCES") denied = true
      }
    }
    return Effect.fail(harnessError(
      denied
        ? `cannot start ${JSON.stringify(command)}: permission denied (EACCES)`
        : `cannot start ${JSON.stringify(command)}: command not found (ENOENT)`
    ))
  })

/**
 * Starts `command args…` in `cwd` under the supervisor, its files in `dir`
 * (which must exist), and waits until the supervisor recorded its pgid.
 */
export const launchSupervised = (
  dir: string,
  command: string,
  args: ReadonlyArray<string>,
  cwd: string
): Effect.Effect<{ readonly pgid: number }, HarnessError> =>
  Effect.gen(function*() {
    const child = yield* Effect.try({
      try: () =>
        spawn("/bin/sh", ["-c", SCRIPT, "tether-supervisor", dir, command, ...args], {
          cwd,
          detached: true,
          stdio: "ignore",
          env: process.env
        }),
      catch: (cause) => harnessError(`cannot start the supervisor: ${String(cause)}`, cause)
    })
    let failure: string | null = null
    child.on("error", (error) => {
      failure = error.message
    })
    child.on("exit", (code) => {
      failure ??= `the supervisor ended at once (status ${code})`
    })
    child.unref()
    const deadline = Date.now() + 10_000
    for (;;) {
      const pgid = readPgid(dir)
      if (pgid !== null) return { pgid }
      if (failure !== null) return yield* harnessError(`cannot start ${JSON.stringify(command)}: ${failure}`)
      if (Date.now() > deadline) {
        if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL")
        return yield* harnessError(`cannot start ${JSON.stringify(command)}: the supervisor did not come up`)
      }
      yield* Effect.sleep("5 millis")
    }
  })
