/**
 * Background processes of the CLI (`server start`, `host --daemon`): a
 * detached `tether …` child with its output in a 0600 log under TETHER_HOME,
 * considered started once `ready` says so, with the log's tail in the error
 * when it never gets there.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as NodeChild from "node:child_process"
import * as NodeFs from "node:fs"
import { isProcessAlive } from "../server/state-file.js"
import { importModule } from "../services/modules/importModule.js"
import { CliError } from "./errors.js"

export interface DaemonSpec<A> {
  /** Arguments after `tether`. */
  readonly args: ReadonlyArray<string>
  /** Extra environment for the child (an empty value removes the variable). */
  readonly env?: Readonly<Record<string, string>>
  readonly logPath: string
  readonly what: string
  /** Polled until it yields a value (Some) or the child exits. */
  readonly ready: (pid: number) => Effect.Effect<A | undefined>
  readonly timeout?: Duration.DurationInput
}

export { isProcessAlive }

/**
 * node:child_process, loaded when a command starts a process rather than on every start of the
 * CLI (through `importModule`: a plain `import()` does not work in the bundle).
 */
export const childProcess = Effect.promise(() => importModule<typeof NodeChild>("node:child_process"))

const childEnvironment = (extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const [key, value] of Object.entries(extra)) {
    if (value === "") delete env[key]
    else env[key] = value
  }
  return env
}

export const startDaemon = <A>(spec: DaemonSpec<A>): Effect.Effect<A, CliError> =>
  Effect.gen(function*() {
    const { spawn } = yield* childProcess
    const log = NodeFs.openSync(spec.logPath, "a", 0o600)
    NodeFs.chmodSync(spec.logPath, 0o600)
    const child = spawn(process.execPath, [process.argv[1] as string, ...spec.args], {
      detached: true,
      stdio: ["ignore", log, log],
      env: childEnvironment(spec.env ?? {})
    })
    NodeFs.closeSync(log)
    let exited: number | null = null
    child.once("exit", (code) => {
      exited = code ?? -1
    })
    child.unref()
    const pid = child.pid ?? -1
    return yield* Effect.suspend(() =>
      exited !== null
        ? Effect.fail("exited" as const)
        : Effect.flatMap(spec.ready(pid), (value) => (value === undefined ? Effect.fail("starting" as const) : Effect.succeed(value)))
    ).pipe(
      Effect.retry({
        schedule: Schedule.spaced("100 millis").pipe(Schedule.upTo(spec.timeout ?? Duration.seconds(20))),
        while: (reason) => reason === "starting"
      }),
      Effect.catchAll(() => {
        const tail = NodeFs.readFileSync(spec.logPath, "utf8").trim().split("\n").slice(-5).join("\n  ")
        return new CliError({
          message: `the ${spec.what} did not come up${exited !== null ? ` (it exited with code ${exited})` : ""}; ` +
            `last lines of ${spec.logPath}:\n  ${tail}`
        })
      })
    )
  })

/** SIGTERM, then wait (bounded) for the process to be gone. */
export const stopProcess = (pid: number, what: string, timeout: Duration.DurationInput = "15 seconds") =>
  Effect.gen(function*() {
    try {
      process.kill(pid, "SIGTERM")
    } catch {
      return
    }
    const gone = yield* Effect.sync(() => !isProcessAlive(pid)).pipe(
      Effect.repeat({
        schedule: Schedule.spaced("100 millis").pipe(Schedule.upTo(Duration.decode(timeout))),
        until: (dead) => dead
      })
    )
    if (!gone) return yield* new CliError({ message: `the ${what} (pid ${pid}) did not stop in time; it is still running` })
  })

export const fetchOk = (url: string) =>
  Effect.tryPromise({
    try: (signal) => fetch(url, { signal }).then((r) => r.ok),
    catch: () => false as const
  }).pipe(Effect.timeout("2 seconds"), Effect.orElseSucceed(() => false))
