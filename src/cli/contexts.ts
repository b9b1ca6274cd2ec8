/**
 * `tether contexts …`: the saved servers the CLI can talk to, like kubectl
 * contexts. Everything here is local (no network). Access tokens are always
 * shown masked; `export` is the only command that writes them out, and only
 * without `--no-secrets`.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Prompt from "@effect/cli/Prompt"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as NodePath from "node:path"
import { type ContextEntry, DEFAULT_CONTEXT_NAME } from "../domain/context-file.js"
import { Scope } from "../domain/scope.js"
import { parseServerAddress } from "../domain/server-url.js"
import { maskSecret, parseToken } from "../domain/token-format.js"
import { writeFileAtomic } from "../services/files/atomic-write.js"
import { ContextRepo, type NamedContext } from "../services/contexts/ContextRepo.js"
import { CliError, InvalidAccessToken } from "./errors.js"
import { type Column, printFields, printJson, printLine, printTable, Stdin } from "./output.js"

// ---------------------------------------------------------------------------
// Views (never the secret)

/** A context as `list --json`, `current --json` and `show --json` print it. */
export interface ContextView {
  readonly name: string
  readonly server: string
  /** Masked (`tat_abc123…`), or null when the context has no token. */
  readonly accessToken: string | null
  readonly scope: Scope | null
  readonly description: string | null
  readonly active: boolean
}

export const contextView = (c: NamedContext): ContextView => ({
  name: c.name,
  server: c.context.server,
  accessToken: c.context.accessToken === undefined ? null : maskSecret(c.context.accessToken),
  scope: c.context.scope ?? null,
  description: c.context.description ?? null,
  active: c.active
})

const columns: ReadonlyArray<Column<ContextView>> = [
  { header: "CURRENT", get: (v) => (v.active ? "*" : "") },
  { header: "NAME", get: (v) => v.name },
  { header: "SERVER", get: (v) => v.server },
  { header: "TOKEN", get: (v) => v.accessToken ?? "-" },
  { header: "SCOPE", get: (v) => v.scope ?? "-" },
  { header: "DESCRIPTION", get: (v) => v.description ?? "" }
]

const printContext = (view: ContextView): Effect.Effect<void> =>
  printFields([
    ["Name", view.active ? `${view.name} (current)` : view.name],
    ["Server", view.server],
    ["Token", view.accessToken ?? "none"],
    ["Scope", view.scope ?? "unknown"],
    ["Description", view.description ?? ""]
  ])

// ---------------------------------------------------------------------------
// Options and arguments

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))

const nameArg = Args.text({ name: "name" }).pipe(Args.withDescription("Context name"))

// ---------------------------------------------------------------------------
// Subcommands

const listContexts = (asJson: boolean) =>
  Effect.gen(function*() {
    const repo = yield* ContextRepo
    const views = (yield* repo.list).map(contextView)
    if (asJson) {
      const current = views.find((v) => v.active)?.name ?? (yield* repo.load).currentContext
      return yield* printJson({ currentContext: current, contexts: views })
    }
    yield* printTable(columns, views)
  })

const list = Command.make("list", { json }, ({ json }) => listContexts(json)).pipe(
  Command.withDescription("List saved contexts; * marks the current one")
)

const current = Command.make("current", { json }, ({ json }) =>
  Effect.gen(function*() {
    const repo = yield* ContextRepo
    const view = contextView(yield* repo.current)
    yield* json ? printJson(view) : printLine(view.name)
  })).pipe(Command.withDescription("Print the name of the current context"))

const use = Command.make("use", { name: nameArg }, ({ name }) =>
  Effect.gen(function*() {
    const repo = yield* ContextRepo
    const chosen = yield* repo.use(name)
    yield* printLine(`Switched to context "${chosen.name}" (${chosen.context.server}).`)
  })).pipe(Command.withDescription("Make a context the current one"))

/** Reads an access token from stdin and checks its format offline. */
const readTokenFromStdin = Effect.gen(function*() {
  const stdin = yield* Stdin
  const text = (yield* stdin.readAll).trim()
  const source = "stdin"
  if (text === "") {
    return yield* new InvalidAccessToken({ source, reason: "missing", error: "nothing was read" })
  }
  return yield* Either.match(parseToken(text, "access"), {
    onLeft: (e) => Effect.fail(new InvalidAccessToken({ source, reason: e.reason, error: e.message })),
    onRight: (parsed) => Effect.succeed(parsed.token)
  })
})

const add = Command.make(
  "add",
  {
    name: nameArg,
    url: Options.text("url").pipe(
      Options.withDescription("Server: a host (port 7337), host:port or http(s):// URL")
    ),
    accessTokenStdin: Options.boolean("access-token-stdin").pipe(
      Options.withDescription("Read the access token (tat_…) from stdin")
    ),
    scope: Options.choice("scope", Scope.literals).pipe(
      Options.withDescription("Scope of the token, for display (the server decides what it allows)"),
      Options.optional
    ),
    description: Options.text("description").pipe(
      Options.withDescription("Free text shown by list and show"),
      Options.optional
    )
  },
  (args) =>
    Effect.gen(function*() {
      const repo = yield* ContextRepo
      const server = yield* parseServerAddress(args.url)
      const accessToken = args.accessTokenStdin ? Option.some(yield* readTokenFromStdin) : Option.none()
      const entry: ContextEntry = {
        server,
        ...Option.match(accessToken, { onNone: () => ({}), onSome: (accessToken) => ({ accessToken }) }),
        ...Option.match(args.scope, { onNone: () => ({}), onSome: (scope) => ({ scope }) }),
        ...Option.match(args.description, { onNone: () => ({}), onSome: (description) => ({ description }) })
      }
      const added = yield* repo.upsert(args.name, entry, { overwrite: false })
      yield* printLine(`Added context "${added.name}" (${added.context.server}).`)
      if (!added.active) yield* printLine(`Make it current with: tether contexts use ${added.name}`)
    })
).pipe(Command.withDescription("Save a context (server URL and, optionally, an access token read from stdin)"))

const show = Command.make("show", { name: nameArg.pipe(Args.optional), json }, ({ json, name }) =>
  Effect.gen(function*() {
    const repo = yield* ContextRepo
    const found = yield* Option.match(name, { onNone: () => repo.current, onSome: repo.get })
    const view = contextView(found)
    yield* json ? printJson(view) : printContext(view)
  })).pipe(Command.withDescription("Show one context (the current one by default); the token is masked"))

const rename = Command.make(
  "rename",
  {
    from: Args.text({ name: "old" }).pipe(Args.withDescription("Current name")),
    to: Args.text({ name: "new" }).pipe(Args.withDescription("New name"))
  },
  ({ from, to }) =>
    Effect.gen(function*() {
      const repo = yield* ContextRepo
      const renamed = yield* repo.rename(from, to)
      yield* printLine(`Renamed context "${from}" to "${renamed.name}".`)
    })
).pipe(Command.withDescription("Rename a context"))

/** Asks before removing; refuses (never waits) when nobody can answer. */
const confirmRemoval = (target: NamedContext): Effect.Effect<void, CliError, ContextRepo | Prompt.Prompt.Environment> =>
  Effect.gen(function*() {
    const stdin = yield* Stdin
    if (!(yield* stdin.isTTY)) {
      return yield* new CliError({
        message:
          `not removing context "${target.name}" without confirmation: stdin is not a terminal. Pass --yes to remove it.`,
        exitCode: 1
      })
    }
    const confirmed = yield* Prompt.confirm({
      message: `Remove context "${target.name}" (${target.context.server})${target.active ? ", the current one" : ""}?`,
      initial: false
    }).pipe(
      Effect.catchTag("QuitException", () =>
        Effect.fail(new CliError({ message: `cancelled: context "${target.name}" was not removed`, exitCode: 130 })))
    )
    if (!confirmed) {
      return yield* new CliError({ message: `cancelled: context "${target.name}" was not removed`, exitCode: 1 })
    }
  })

const remove = Command.make(
  "remove",
  {
    name: nameArg,
    yes: Options.boolean("yes").pipe(Options.withAlias("y"), Options.withDescription("Do not ask for confirmation"))
  },
  ({ name, yes }) =>
    Effect.gen(function*() {
      const repo = yield* ContextRepo
      if (name !== DEFAULT_CONTEXT_NAME && !yes) {
        // Fail on an unknown name before asking anything.
        yield* confirmRemoval(yield* repo.get(name))
      }
      const result = yield* repo.remove(name)
      yield* printLine(`Removed context "${result.removed.name}".`)
      if (result.removed.active) yield* printLine(`The current context is now "${result.currentContext}".`)
    })
).pipe(Command.withDescription("Delete a saved context (asks first unless --yes; default cannot be removed)"))

const exportCommand = Command.make(
  "export",
  {
    out: Options.text("out").pipe(
      Options.withDescription("Write to this file (created 0600) instead of stdout"),
      Options.optional
    ),
    noSecrets: Options.boolean("no-secrets").pipe(Options.withDescription("Leave the access tokens out"))
  },
  ({ noSecrets, out }) =>
    Effect.gen(function*() {
      const repo = yield* ContextRepo
      const content = yield* repo.exportContexts({ noSecrets })
      if (Option.isNone(out)) return yield* Console.log(content.trimEnd())
      const path = NodePath.resolve(out.value)
      yield* writeFileAtomic(path, content, { mode: 0o600 }).pipe(
        Effect.mapError((e) => new CliError({ message: `cannot write ${path}: ${e.message}` }))
      )
      yield* printLine(
        `Exported contexts to ${path}${noSecrets ? " without access tokens" : " (it holds access tokens: keep it private)"}.`
      )
    })
).pipe(Command.withDescription("Print all contexts as a context file, or write them to --out (mode 0600)"))

const importCommand = Command.make(
  "import",
  {
    file: Args.fileText({ name: "file" }).pipe(Args.withDescription("A file written by `tether contexts export`")),
    merge: Options.boolean("merge").pipe(
      Options.withDescription("Add to the saved contexts (same names are replaced) instead of replacing them all")
    )
  },
  ({ file: [path, content], merge }) =>
    Effect.gen(function*() {
      const repo = yield* ContextRepo
      const result = yield* repo.importContexts(content, { merge, source: path })
      const names = result.imported.length === 0 ? "" : ` (${result.imported.join(", ")})`
      yield* printLine(
        `Imported ${result.imported.length} context${result.imported.length === 1 ? "" : "s"}${names} from ${path}` +
          `${merge ? "" : ", replacing the others"}. Current context: ${result.currentContext}.`
      )
    })
).pipe(Command.withDescription("Load contexts from a file written by export"))

/** `tether contexts`: with no subcommand, lists the contexts. */
export const contextsCommand = Command.make("contexts", {}, () => listContexts(false)).pipe(
  Command.withDescription("Manage saved servers (contexts): which server and token the CLI uses"),
  Command.withSubcommands([list, current, use, add, show, rename, remove, exportCommand, importCommand])
)
