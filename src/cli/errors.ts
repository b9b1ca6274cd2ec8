/**
 * CLI failures as one clear line and an exit code.
 *
 * `CliError` is the catch-all a command fails with when it has nothing more
 * specific; the typed errors of the domain (context file, server address,
 * tokens …) render through their own `message`. `renderCliError` turns any
 * failure into one line; `renderCliErrorWith` lets callers put their own
 * renderers (HTTP, transport …) in front of it.
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/** A failure with a ready-made sentence. `exitCode` defaults to 1. */
export class CliError extends Schema.TaggedError<CliError>()("CliError", {
  message: Schema.String,
  exitCode: Schema.optional(Schema.Int)
}) {}

/** A token given on the command line, in the environment or in a context failed the offline format check. */
export class InvalidAccessToken extends Schema.TaggedError<InvalidAccessToken>()("InvalidAccessToken", {
  /** Where the token came from, e.g. `--token (or TETHER_TOKEN)` or `context "prod"`. */
  source: Schema.String,
  reason: Schema.Literal("wrong_kind", "malformed", "bad_checksum", "missing"),
  error: Schema.String
}) {
  override get message(): string {
    return `invalid access token from ${this.source}: ${this.error}`
  }
}

/** Tags whose `message` is the whole story (they build it from their fields). */
const selfDescribing: ReadonlySet<string> = new Set([
  "CliError",
  "InvalidAccessToken",
  "InvalidServerAddress",
  "ContextFileCorrupt",
  "ContextFileIoError",
  "ContextNotFound",
  "ContextExists",
  "DefaultContextProtected",
  "InvalidContextName",
  "TokenFormatError"
])

/** Errors that mean "you typed something wrong" exit with 2, like a usage error. */
const usageTags: ReadonlySet<string> = new Set([
  "InvalidAccessToken",
  "InvalidServerAddress",
  "InvalidContextName",
  "TokenFormatError"
])

/** Returns a line for the errors it knows, undefined for the others. */
export type ErrorRenderer = (error: unknown) => string | undefined

const ANSI_RE = /\u001b\[[0-9;]*m/g

const oneLine = (text: string): string => text.replace(ANSI_RE, "").replace(/\s*\n\s*/g, " ").trim()

const stringField = (error: unknown, field: "message" | "error"): string | undefined =>
  Predicate.hasProperty(error, field) && typeof error[field] === "string" && error[field] !== ""
    ? error[field]
    : undefined

const renderGeneric = (error: unknown): string => {
  if (Cause.isCause(error)) {
    return Option.match(Cause.failureOption(error), {
      onSome: renderGeneric,
      onNone: () =>
        Cause.isInterruptedOnly(error)
          ? "interrupted"
          : `internal error: ${Cause.pretty(error).split("\n")[0] ?? "unknown defect"}`
    })
  }
  if (ValidationError.isValidationError(error)) {
    return HelpDoc.toAnsiText(error.error) || "invalid command line"
  }
  if (Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" && selfDescribing.has(error._tag)) {
    const message = stringField(error, "message")
    if (message !== undefined) return message
  }
  const text = stringField(error, "error") ?? stringField(error, "message")
  if (text !== undefined) return text
  if (Predicate.hasProperty(error, "_tag") && typeof error._tag === "string") return `unexpected error: ${error._tag}`
  return `unexpected error: ${String(error)}`
}

/** Any failure (typed error, Cause, ValidationError, thrown value) as one line. */
export const renderCliError = (error: unknown): string => oneLine(renderGeneric(error)) || "unknown error"

/** `renderCliError` with more specific renderers tried first, in order. */
export const renderCliErrorWith =
  (...renderers: ReadonlyArray<ErrorRenderer>) => (error: unknown): string => {
    for (const render of renderers) {
      const line = render(error)
      if (line !== undefined) return oneLine(line)
    }
    return renderCliError(error)
  }

/** The process exit code for a failure: CliError's own, 2 for usage errors, 1 otherwise. */
export const exitCodeOf = (error: unknown): number => {
  const failure = Cause.isCause(error) ? Option.getOrUndefined(Cause.failureOption(error)) : error
  if (failure instanceof CliError) return failure.exitCode ?? 1
  if (ValidationError.isValidationError(failure)) return 2
  if (Predicate.hasProperty(failure, "_tag") && typeof failure._tag === "string" && usageTags.has(failure._tag)) return 2
  return 1
}
