/**
 * Terminal sessions from the command line:
 *
 * - `tether run [--host H] [--cwd DIR] [--title T] -- CMD ARGS…` starts CMD
 *   in a PTY on a host (by default this machine's host) as a `terminal`
 *   session, attaches this terminal in raw mode as its controller, and exits
 *   with the program's exit status. Every argument after `--` is passed
 *   through untouched. `--no-relay` runs CMD right here instead, attached to
 *   this terminal, with nothing sent anywhere.
 * - `tether attach SESSION [--read-only]` watches (and, with a write-scope
 *   token, types into) a session's terminal; `tether control SESSION` also
 *   takes control, so the PTY follows this terminal's size. `Ctrl-\`
 *   detaches.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as NodeOs from "node:os"
import { CliError } from "./errors.js"
import { childProcess } from "./daemon.js"
import { defaultHostName } from "./host.js"
import { ensureLocalStack } from "./local.js"
import { withClient } from "./remote.js"
import { resolveTarget, type Target, targetOptions } from "./target.js"
import type { AttachMode, AttachOptions, AttachOutcome } from "./terminal-attach.js"

/** Loads the attach client when a command attaches (ws and its node:http/tls/zlib stay off the start-up path). */
const loadAttach = () => Effect.promise(() => import("./terminal-attach.js"))

const attachTerminal = (options: AttachOptions): Effect.Effect<AttachOutcome, CliError> =>
  Effect.flatMap(loadAttach(), (attach) => attach.attachTerminal(options))

const tokenOf = (target: Target): Effect.Effect<string, CliError> =>
  Option.match(target.token, {
    onNone: () => Effect.fail(new CliError({ message: `no access token for ${target.server}: run \`tether connect\``, exitCode: 4 })),
    onSome: (token) => Effect.succeed(Redacted.value(token))
  })

/** Runs the program here, on this terminal, and returns its exit status (`--no-relay`). */
export const runLocally = (command: ReadonlyArray<string>, cwd: string): Effect.Effect<number, CliError> =>
  Effect.flatMap(childProcess, ({ spawn }) =>
    Effect.async<number, CliError>((resume) => {
      const [file, ...args] = command
      if (file === undefined) {
        resume(Effect.fail(new CliError({ message: "nothing to run: give a command after --", exitCode: 2 })))
        return
      }
      // The child gets the terminal; Ctrl-C is for it, not for us.
      const ignore = () => {}
      process.on("SIGINT", ignore)
      const child = spawn(file, args, { stdio: "inherit", cwd })
      const done = (status: Effect.Effect<number, CliError>) => {
        process.off("SIGINT", ignore)
        resume(status)
      }
      child.once("error", (error) => done(Effect.fail(new CliError({ message: `cannot run ${JSON.stringify(file)}: ${error.message}`, exitCode: 127 }))))
      child.once("exit", (code, signal) => {
        const signo = signal === null ? 0 : (NodeOs.constants.signals[signal] ?? 1)
        done(Effect.succeed(code ?? 128 + signo))
      })
    }))

export interface RunTerminalOptions {
  readonly command: ReadonlyArray<string>
  readonly harness: string
  readonly host: Option.Option<string>
  readonly cwd: Option.Option<string>
  readonly title: Option.Option<string>
  readonly noRelay: boolean
}

/** `tether run -- CMD …`: returns the exit status to leave with. */
export const runTerminal = (target: Target, options: RunTerminalOptions) =>
  Effect.gen(function*() {
    const cwd = Option.getOrElse(options.cwd, () => process.cwd())
    if (options.noRelay) return yield* runLocally(options.command, cwd)
    const ready = yield* ensureLocalStack(target)
    const token = yield* tokenOf(ready)
    const hostId = Option.getOrElse(options.host, defaultHostName)
    const session = yield* withClient(ready, (client) =>
      client.sessions.create({
        payload: {
          harness: options.harness,
          cwd,
          args: options.command,
          hostId,
          ...(process.stdout.isTTY ? { size: { cols: process.stdout.columns, rows: process.stdout.rows } } : {}),
          title: Option.getOrElse(options.title, () => options.command.join(" ").slice(0, 200))
        }
      }))
    const outcome = yield* attachTerminal({
      server: ready.server,
      token,
      sessionId: session.id,
      mode: "control",
      reattachHint: `tether control ${session.id}`
    })
    if (outcome._tag === "Exited" && outcome.code === null && outcome.signal === null) {
      // No exit status from the program: say what the session knows (it may never have started).
      const finished = yield* withClient(ready, (client) => client.sessions.get({ path: { id: session.id } }))
      if (finished.statusReason !== null) yield* Console.error(`tether: session ${session.id} ${finished.status}: ${finished.statusReason}`)
    }
    return (yield* loadAttach()).exitStatusOf(outcome)
  })

const sessionArg = Args.text({ name: "SESSION" }).pipe(Args.withDescription("session id"))

const attachWith = (mode: (readOnly: boolean) => AttachMode) =>
  (opts: { readonly session: string; readonly readOnly: boolean } & Parameters<typeof resolveTarget>[0]) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget(opts)
      const token = yield* tokenOf(target)
      const outcome = yield* attachTerminal({
        server: target.server,
        token,
        sessionId: opts.session,
        mode: mode(opts.readOnly),
        reattachHint: `tether attach ${opts.session}`
      })
      if (outcome._tag === "Exited") {
        yield* Console.error(`[tether] the program exited (${outcome.code !== null ? `code ${outcome.code}` : outcome.signal ?? "unknown"})`)
      }
    })

export const attachCommand = Command.make(
  "attach",
  {
    ...targetOptions,
    readOnly: Options.boolean("read-only").pipe(Options.withDescription("watch only, never type")),
    session: sessionArg
  },
  attachWith((readOnly) => (readOnly ? "read" : "write"))
).pipe(Command.withDescription("attach this terminal to a session's terminal (Ctrl-\\ detaches)"))

export const controlCommand = Command.make(
  "control",
  { ...targetOptions, session: sessionArg },
  (opts) => attachWith(() => "control")({ ...opts, readOnly: false })
).pipe(Command.withDescription("attach and take control: the session's terminal follows this terminal's size"))
