/**
 * The CLI's context file, `$TETHER_HOME/config.json` (documented for scripts
 * in docs/config-file.md):
 *
 *   {
 *     "version": 1,
 *     "currentContext": "prod",
 *     "contexts": {
 *       "default": { "server": "http://localhost:7337" },
 *       "prod": { "server": "https://tether.example.com", "accessToken": "tat_…", "scope": "admin" }
 *     }
 *   }
 *
 * Keys this version does not know are kept through a read-modify-write cycle,
 * at the top level and inside each context. Pure: schemas, codecs and errors.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Scope } from "./scope.js"
import { DEFAULT_SERVER, parseServerAddress } from "./server-url.js"

export const CONTEXT_FILE_VERSION = 1 as const
export const CONTEXT_FILE_NAME = "config.json"
export const DEFAULT_CONTEXT_NAME = "default"

// ---------------------------------------------------------------------------
// Names

const CONTEXT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

/** Why `name` is not a valid context name, or undefined when it is. */
export const contextNameProblem = (name: string): string | undefined => {
  if (name.length === 0) return "a context name cannot be empty"
  if (name.length > 63) return "a context name has at most 63 characters"
  if (!CONTEXT_NAME_RE.test(name)) {
    return "a context name starts with a letter or digit and contains only letters, digits, '.', '_' and '-'"
  }
  return undefined
}

export const isContextName = (name: string): boolean => contextNameProblem(name) === undefined

/** 1–63 characters: `[A-Za-z0-9][A-Za-z0-9._-]*`. */
export const ContextName = Schema.String.pipe(
  Schema.filter((name) => contextNameProblem(name) ?? true, { identifier: "ContextName" })
)

// ---------------------------------------------------------------------------
// Schema

/** A server base URL as `parseServerAddress` accepts it (normally already normalised). */
export const ServerUrl = Schema.String.pipe(
  Schema.filter((s) => Either.match(parseServerAddress(s), { onLeft: (e) => e.error, onRight: () => true }), {
    identifier: "ServerUrl"
  })
)

const preserveUnknownKeys = { parseOptions: { onExcessProperty: "preserve" } } as const

/** One context. Unknown keys are preserved (not typed). */
export const ContextEntry = Schema.Struct({
  server: ServerUrl,
  accessToken: Schema.optional(Schema.NonEmptyString),
  scope: Schema.optional(Scope),
  description: Schema.optional(Schema.String)
}).annotations({ identifier: "ContextEntry", ...preserveUnknownKeys })
export type ContextEntry = typeof ContextEntry.Type

const Contexts = Schema.Record({ key: Schema.String, value: ContextEntry }).pipe(
  Schema.filter((contexts) => {
    const issues: Array<Schema.FilterIssue> = []
    for (const name of Object.keys(contexts)) {
      const problem = contextNameProblem(name)
      if (problem !== undefined) issues.push({ path: [name], message: `invalid context name: ${problem}` })
    }
    return issues
  })
)

export const ContextFile = Schema.Struct({
  version: Schema.Literal(CONTEXT_FILE_VERSION),
  currentContext: ContextName,
  contexts: Contexts
}).annotations({ identifier: "ContextFile", ...preserveUnknownKeys })
export type ContextFile = typeof ContextFile.Type

/** The `default` context: the server on this machine. */
export const defaultContextEntry: ContextEntry = { server: DEFAULT_SERVER }

/** What the file holds before anything was saved. */
export const emptyContextFile: ContextFile = {
  version: CONTEXT_FILE_VERSION,
  currentContext: DEFAULT_CONTEXT_NAME,
  contexts: { [DEFAULT_CONTEXT_NAME]: defaultContextEntry }
}

/** Adds the `default` context when the file lacks it. */
export const withDefaultContext = (file: ContextFile): ContextFile =>
  Object.hasOwn(file.contexts, DEFAULT_CONTEXT_NAME)
    ? file
    : { ...file, contexts: { [DEFAULT_CONTEXT_NAME]: defaultContextEntry, ...file.contexts } }

// ---------------------------------------------------------------------------
// Text codec

/** One line describing why a value is not a context file (first few issues, with their JSON paths). */
export const describeParseError = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const shown = issues.slice(0, 3).map((issue) =>
    issue.path.length === 0 ? issue.message : `at ${issue.path.map(String).join(".")}: ${issue.message}`
  )
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : ""
  return shown.join("; ").replace(/\s*\n\s*/g, " ") + more
}

/**
 * Parses the text of a context file. The error is one human line (bad JSON,
 * or which field is wrong); the caller adds the path. `default` is not added
 * here: see `withDefaultContext`.
 */
export const decodeContextFile = (text: string): Either.Either<ContextFile, string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return Either.left(`not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
  return Schema.decodeUnknownEither(ContextFile, { errors: "all" })(json).pipe(
    Either.mapLeft(describeParseError)
  )
}

/**
 * The text written to disk: 2-space JSON with a trailing newline, known keys
 * first, unknown keys after them.
 */
export const encodeContextFile = (file: ContextFile): string => {
  const encoded = Schema.encodeSync(ContextFile)(file)
  const contexts: Record<string, unknown> = {}
  for (const [name, entry] of Object.entries(encoded.contexts)) {
    contexts[name] = orderKeys(entry, ["server", "accessToken", "scope", "description"])
  }
  return JSON.stringify(
    orderKeys({ ...encoded, contexts }, ["version", "currentContext", "contexts"]),
    null,
    2
  ) + "\n"
}

const orderKeys = (value: object, first: ReadonlyArray<string>): Record<string, unknown> => {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined)
  const rank = (key: string) => {
    const i = first.indexOf(key)
    return i === -1 ? first.length : i
  }
  // Array.prototype.sort is stable: unknown keys keep their relative order.
  return Object.fromEntries(entries.sort(([a], [b]) => rank(a) - rank(b)))
}

/** The same file without any access token (for `contexts export --no-secrets`). */
export const stripSecrets = (file: ContextFile): ContextFile => {
  const contexts: Record<string, ContextEntry> = {}
  for (const [name, entry] of Object.entries(file.contexts)) {
    const { accessToken: _dropped, ...rest } = entry
    contexts[name] = rest
  }
  return { ...file, contexts }
}

// ---------------------------------------------------------------------------
// Errors (they cross the CLI boundary: each renders as one line via `message`)

/** The file exists but is not valid JSON or not a valid context file. It is never overwritten. */
export class ContextFileCorrupt extends Schema.TaggedError<ContextFileCorrupt>()("ContextFileCorrupt", {
  path: Schema.String,
  error: Schema.String
}) {
  override get message(): string {
    return `${this.path} is not a valid Tether context file: ${this.error}. ` +
      "Fix it or move it aside; Tether will not overwrite it."
  }
}

/** Reading, writing or securing a context file failed at the file-system level. */
export class ContextFileIoError extends Schema.TaggedError<ContextFileIoError>()("ContextFileIoError", {
  path: Schema.String,
  operation: Schema.Literal("read", "write"),
  error: Schema.String
}) {
  override get message(): string {
    return `cannot ${this.operation} ${this.path}: ${this.error}`
  }
}

export class ContextNotFound extends Schema.TaggedError<ContextNotFound>()("ContextNotFound", {
  name: Schema.String,
  available: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const known = this.available.length === 0 ? "" : ` (known: ${this.available.join(", ")})`
    return `no context named "${this.name}"${known}`
  }
}

export class ContextExists extends Schema.TaggedError<ContextExists>()("ContextExists", {
  name: Schema.String
}) {
  override get message(): string {
    return `a context named "${this.name}" already exists`
  }
}

export class DefaultContextProtected extends Schema.TaggedError<DefaultContextProtected>()(
  "DefaultContextProtected",
  { operation: Schema.Literal("remove", "rename") }
) {
  override get message(): string {
    return `the "${DEFAULT_CONTEXT_NAME}" context cannot be ${this.operation === "remove" ? "removed" : "renamed"}`
  }
}

export class InvalidContextName extends Schema.TaggedError<InvalidContextName>()("InvalidContextName", {
  name: Schema.String,
  error: Schema.String
}) {
  override get message(): string {
    return `invalid context name "${this.name}": ${this.error}`
  }
}

export type ContextError =
  | ContextFileCorrupt
  | ContextFileIoError
  | ContextNotFound
  | ContextExists
  | DefaultContextProtected
  | InvalidContextName
