/**
 * `tether sessions …`, `tether hosts` and `tether run`: sessions on the
 * active server, followed live over SSE.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as NodeReadline from "node:readline"
import type { HostInfo } from "../domain/host.js"
import type { Session } from "../domain/session.js"
import { isFinished, SessionEventRecord, SessionStatus } from "../domain/session-event.js"
import { CliError } from "./errors.js"
import { followSession } from "./event-stream.js"
import { formatTime, printJson, printTable } from "./output.js"
import { withClient } from "./remote.js"
import { makeRenderer } from "./render-events.js"
import { ensureLocalStack } from "./local.js"
import { resolveTarget, type Target, targetOptions } from "./target.js"
import { runTerminal } from "./terminal.js"

const jsonOption = Options.boolean("json").pipe(Options.withDescription("print JSON (NDJSON for streams)"))
const sessionArg = Args.text({ name: "SESSION" }).pipe(Args.withDescription("session id"))
const encodeRecord = Schema.encodeSync(SessionEventRecord)

const sessionJson = (s: Session) => ({
  ...s,
  createdAt: DateTime.formatIso(s.createdAt),
  updatedAt: DateTime.formatIso(s.updatedAt),
  pendingApprovals: s.pendingApprovals,
  queuedInputs: s.queuedInputs.map((q) => ({ ...q, queuedAt: DateTime.formatIso(q.queuedAt) }))
})

/** Prints events until the session finishes (or forever with `untilFinished: false`). */
const streamEvents = (target: Target, sessionId: string, options: { after: number; json: boolean; untilFinished: boolean }) => {
  const render = makeRenderer((text) => process.stdout.write(text))
  let exitCode: number | null = null
  return followSession(target, sessionId, options.after).pipe(
    Stream.tap((record) =>
      Effect.sync(() => {
        if (options.json) process.stdout.write(`${JSON.stringify(encodeRecord(record))}\n`)
        else render(record)
        if (record.event.type === "status") exitCode = record.event.exitCode
      })
    ),
    options.untilFinished
      ? Stream.takeUntil((record) => record.event.type === "status" && isFinished(record.event.status))
      : (s) => s,
    Stream.runDrain,
    Effect.map(() => exitCode)
  )
}

const list = Command.make(
  "list",
  {
    ...targetOptions,
    status: Options.choice("status", SessionStatus.literals).pipe(Options.optional),
    host: Options.text("host").pipe(Options.optional),
    harness: Options.text("harness").pipe(Options.optional),
    archived: Options.boolean("archived").pipe(Options.withDescription("list archived sessions instead")),
    limit: Options.integer("limit").pipe(Options.withDefault(50)),
    cursor: Options.text("cursor").pipe(Options.optional),
    json: jsonOption
  },
  (opts) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget(opts)
      const page = yield* withClient(target, (client) =>
        client.sessions.list({
          urlParams: {
            limit: opts.limit,
            archived: opts.archived,
            ...Option.match(opts.status, { onNone: () => ({}), onSome: (status) => ({ status }) }),
            ...Option.match(opts.host, { onNone: () => ({}), onSome: (host) => ({ host }) }),
            ...Option.match(opts.harness, { onNone: () => ({}), onSome: (harness) => ({ harness }) }),
            ...Option.match(opts.cursor, { onNone: () => ({}), onSome: (cursor) => ({ cursor }) })
          }
        }))
      if (opts.json) return yield* printJson({ sessions: page.sessions.map(sessionJson), nextCursor: page.nextCursor })
      yield* printTable(
        [
          { header: "ID", get: (s: Session) => s.id },
          { header: "STATUS", get: (s: Session) => s.status },
          { header: "HARNESS", get: (s: Session) => s.harness },
          { header: "HOST", get: (s: Session) => `${s.hostName}${s.hostOnline ? "" : " (offline)"}` },
          { header: "TITLE", get: (s: Session) => s.title ?? "" },
          { header: "UPDATED", get: (s: Session) => formatTime(s.updatedAt) }
        ],
        page.sessions
      )
      if (page.nextCursor !== null) yield* Console.error(`more: --cursor ${page.nextCursor}`)
    })
).pipe(Command.withDescription("list sessions (newest first)"))

const show = Command.make("show", { ...targetOptions, id: sessionArg, json: jsonOption }, (opts) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(opts)
    const s = yield* withClient(target, (client) => client.sessions.get({ path: { id: opts.id } }))
    if (opts.json) return yield* printJson(sessionJson(s))
    yield* Console.log([
      `id:        ${s.id}`,
      `title:     ${s.title ?? "-"}`,
      `status:    ${s.status}${s.statusReason === null ? "" : ` (${s.statusReason})`}${s.exitCode === null ? "" : `, exit ${s.exitCode}`}`,
      `harness:   ${s.harness} ${s.args.join(" ")}`,
      `host:      ${s.hostName} (${s.hostOnline ? "online" : "offline"})`,
      `cwd:       ${s.cwd}`,
      `events:    ${s.lastSeq}`,
      `created:   ${formatTime(s.createdAt)}`,
      ...(s.forkedFrom === null ? [] : [`forked:    from ${s.forkedFrom.sessionId} at ${s.forkedFrom.upToSeq}`]),
      ...s.pendingApprovals.map((a) => `approval:  [${a.requestId}] ${a.tool} waiting`),
      ...s.queuedInputs.map((q) => `queued:    ${q.kind}${q.text === null ? "" : ` ${JSON.stringify(q.text)}`}`)
    ].join("\n"))
  })).pipe(Command.withDescription("show a session's state, pending approvals and queued input"))

const tail = Command.make(
  "tail",
  {
    ...targetOptions,
    id: sessionArg,
    after: Options.integer("after").pipe(Options.withDescription("start after this event seq (default: from the start)"), Options.withDefault(0)),
    follow: Options.boolean("follow").pipe(Options.withAlias("f"), Options.withDescription("keep following after the session finishes")),
    json: jsonOption
  },
  (opts) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget(opts)
      yield* streamEvents(target, opts.id, { after: opts.after, json: opts.json, untilFinished: !opts.follow })
    })
).pipe(Command.withDescription("print a session's events and follow it until it finishes"))

const send = Command.make("send", { ...targetOptions, id: sessionArg, text: Args.text({ name: "TEXT" }) }, (opts) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(opts)
    const accepted = yield* withClient(target, (client) =>
      client.sessions.send({ path: { id: opts.id }, payload: { type: "message", text: opts.text } }))
    yield* Console.log(accepted.delivery === "sent" ? "sent" : "queued until the host is back")
  })).pipe(Command.withDescription("send a message to a session"))

const simpleInput = (name: "interrupt" | "stop", description: string) =>
  Command.make(name, { ...targetOptions, id: sessionArg }, (opts) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget(opts)
      const path = { id: opts.id }
      const accepted = yield* withClient(target, (client) =>
        name === "stop"
          ? client.sessions.send({ path, payload: { type: "stop" } })
          : client.sessions.send({ path, payload: { type: "interrupt" } }))
      yield* Console.log(accepted.delivery === "sent" ? `${name} sent` : `${name} queued until the host is back`)
    })).pipe(Command.withDescription(description))

const approve = Command.make(
  "approve",
  {
    ...targetOptions,
    id: sessionArg,
    requestId: Args.text({ name: "REQUEST" }),
    decision: Options.choice("decision", ["allow", "allow_session", "deny"] as const).pipe(Options.withDefault("allow" as const)),
    note: Options.text("note").pipe(Options.optional)
  },
  (opts) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget(opts)
      yield* withClient(target, (client) =>
        client.sessions.send({
          path: { id: opts.id },
          payload: {
            type: "approval",
            requestId: opts.requestId,
            decision: opts.decision,
            ...Option.match(opts.note, { onNone: () => ({}), onSome: (note) => ({ note }) })
          }
        }))
      yield* Console.log(`${opts.decision}: ${opts.requestId}`)
    })
).pipe(Command.withDescription("answer a pending approval (allow, allow_session or deny)"))

const fork = Command.make(
  "fork",
  { ...targetOptions, id: sessionArg, upTo: Options.integer("up-to").pipe(Options.optional), json: jsonOption },
  (opts) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget(opts)
      const forked = yield* withClient(target, (client) =>
        client.sessions.fork({
          path: { id: opts.id },
          payload: Option.match(opts.upTo, { onNone: () => ({}), onSome: (upToSeq) => ({ upToSeq }) })
        }))
      if (opts.json) return yield* printJson(sessionJson(forked))
      yield* Console.log(`${forked.id} (forked from ${opts.id} at ${forked.forkedFrom?.upToSeq ?? forked.lastSeq})`)
    })
).pipe(Command.withDescription("copy a session's history (up to an event seq) into a new session"))

const rm = Command.make("rm", { ...targetOptions, id: sessionArg }, (opts) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(opts)
    yield* withClient(target, (client) => client.sessions.remove({ path: { id: opts.id } }))
    yield* Console.log(`deleted ${opts.id}`)
  })).pipe(Command.withDescription("stop (if running) and delete a session and its history"))

export const sessionsCommand = Command.make("sessions").pipe(
  Command.withDescription("sessions on the active server"),
  Command.withSubcommands([
    list,
    show,
    tail,
    send,
    simpleInput("interrupt", "interrupt the session's current turn"),
    simpleInput("stop", "stop the session and its processes"),
    approve,
    fork,
    rm
  ])
)

export const hostsCommand = Command.make("hosts", { ...targetOptions, json: jsonOption }, (opts) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(opts)
    const { hosts } = yield* withClient(target, (client) => client.hosts.list())
    if (opts.json) {
      return yield* printJson(hosts.map((h) => ({ ...h, lastSeenAt: h.lastSeenAt === null ? null : DateTime.formatIso(h.lastSeenAt) })))
    }
    yield* printTable(
      [
        { header: "NAME", get: (h: HostInfo) => h.name },
        { header: "ID", get: (h: HostInfo) => h.id },
        { header: "ONLINE", get: (h: HostInfo) => (h.online ? "yes" : "no") },
        { header: "LAST SEEN", get: (h: HostInfo) => formatTime(h.lastSeenAt) },
        { header: "VERSION", get: (h: HostInfo) => h.version ?? "-" },
        {
          header: "HARNESSES",
          get: (h: HostInfo) => h.harnesses.map((x) => (x.ready ? x.name : `${x.name} (not ready)`)).join(", ")
        }
      ],
      hosts
    )
  })).pipe(Command.withDescription("hosts registered with the active server"))

/**
 * `tether run`: two ways.
 * - `tether run [--host H] -- CMD ARGS…` (any positional words): CMD runs in a
 *   PTY on the host as a `terminal` session (or `--harness` of your choice)
 *   with this terminal attached as its controller; exits with its status.
 *   `--no-relay` runs it here only.
 * - `tether run --harness H --arg … [--prompt TEXT]` (no positional words):
 *   create a session and follow its events. Lines typed are sent as
 *   messages; Ctrl-C interrupts the turn, a second Ctrl-C within 2 s detaches
 *   (the session keeps running). Exits with the session's exit code.
 */
export const runCommand = Command.make(
  "run",
  {
    ...targetOptions,
    harness: Options.text("harness").pipe(
      Options.withDescription("harness to run (default: terminal with a command, shell otherwise)"),
      Options.optional
    ),
    host: Options.text("host").pipe(
      Options.withDescription("host name or id (default: this machine's host with a command, else the only online host)"),
      Options.optional
    ),
    cwd: Options.text("cwd").pipe(Options.withDescription("working directory on the host (default: this directory)"), Options.optional),
    title: Options.text("title").pipe(Options.optional),
    arg: Options.text("arg").pipe(Options.withDescription("argument for the harness (repeatable); for shell: the command, then its arguments"), Options.repeated),
    prompt: Options.text("prompt").pipe(Options.withDescription("the first message"), Options.optional),
    noRelay: Options.boolean("no-relay").pipe(Options.withDescription("with a command: run it here only, relaying nothing")),
    json: jsonOption,
    command: Args.text({ name: "COMMAND" }).pipe(
      Args.withDescription("a program to run in a terminal, with its arguments (put them after --)"),
      Args.repeated
    )
  },
  (opts) =>
    opts.command.length > 0
      ? Effect.gen(function*() {
        const target = yield* resolveTarget(opts)
        const status = yield* runTerminal(target, {
          command: opts.command,
          harness: Option.getOrElse(opts.harness, () => "terminal"),
          host: opts.host,
          cwd: opts.cwd,
          title: opts.title,
          noRelay: opts.noRelay
        })
        if (status !== 0) return yield* new CliError({ message: "", exitCode: status })
      })
      : runAndFollow({ ...opts, harness: Option.getOrElse(opts.harness, () => "shell") })
).pipe(Command.withDescription("run a program in a terminal on a host (tether run -- CMD …), or start a session and follow it"))

const runAndFollow = (opts: {
  readonly harness: string
  readonly host: Option.Option<string>
  readonly cwd: Option.Option<string>
  readonly title: Option.Option<string>
  readonly arg: ReadonlyArray<string>
  readonly prompt: Option.Option<string>
  readonly json: boolean
} & Parameters<typeof resolveTarget>[0]) =>
    Effect.gen(function*() {
      const target = yield* Effect.flatMap(resolveTarget(opts), ensureLocalStack)
      const session = yield* withClient(target, (client) =>
        client.sessions.create({
          payload: {
            harness: opts.harness,
            cwd: Option.getOrElse(opts.cwd, () => process.cwd()),
            args: opts.arg,
            ...Option.match(opts.host, { onNone: () => ({}), onSome: (hostId) => ({ hostId }) }),
            ...Option.match(opts.title, { onNone: () => ({}), onSome: (title) => ({ title }) }),
            ...Option.match(opts.prompt, { onNone: () => ({}), onSome: (prompt) => ({ prompt }) })
          }
        }))
      if (!opts.json) yield* Console.error(`session ${session.id} on ${session.hostName}`)

      const post = (payload: { readonly type: "message"; readonly text: string } | { readonly type: "interrupt" }) =>
        withClient(target, (client) =>
          payload.type === "message"
            ? client.sessions.send({ path: { id: session.id }, payload })
            : client.sessions.send({ path: { id: session.id }, payload })).pipe(
          Effect.catchAll((error) => Console.error(`tether: ${error.message}`))
        )
      const runtime = yield* Effect.runtime<never>()
      const fork = <A, E>(effect: Effect.Effect<A, E>) => void Runtime.runFork(runtime)(effect)

      const input = process.stdin.isTTY || !process.stdin.readableEnded
        ? NodeReadline.createInterface({ input: process.stdin, terminal: false })
        : undefined
      input?.on("line", (line) => fork(post({ type: "message", text: line })))
      let lastInterrupt = 0
      const detach = yield* Effect.makeLatch(false)
      const onSigint = () => {
        const now = Date.now()
        if (now - lastInterrupt < 2000) {
          process.stderr.write(`\ndetached; the session keeps running (tether sessions tail ${session.id})\n`)
          fork(detach.open)
          return
        }
        lastInterrupt = now
        process.stderr.write("\ninterrupting (Ctrl-C again to detach)\n")
        fork(post({ type: "interrupt" }))
      }
      process.on("SIGINT", onSigint)
      const exitCode = yield* streamEvents(target, session.id, { after: 0, json: opts.json, untilFinished: true }).pipe(
        Effect.map(Option.some),
        Effect.raceFirst(Effect.as(detach.await, Option.none<number | null>())),
        Effect.ensuring(Effect.sync(() => {
          process.off("SIGINT", onSigint)
          input?.close()
        }))
      )
      if (Option.isSome(exitCode) && exitCode.value !== null && exitCode.value !== 0) {
        return yield* new CliError({ message: "", exitCode: exitCode.value })
      }
    })
