/**
 * Terminal I/O for CLI commands: JSON and aligned tables on stdout, warnings
 * on stderr, timestamps for people, and reading stdin.
 *
 * Output goes through Effect's `Console`, so tests capture it by providing
 * their own (`Effect.withConsole`). Stdin is a `Context.Reference`: real
 * process stdin unless a test provides another (`Stdin.fixed`).
 */
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { CliError } from "./errors.js"

// ---------------------------------------------------------------------------
// stdout / stderr

const jsonReplacer = (_key: string, value: unknown): unknown => {
  if (Option.isOption(value)) return Option.getOrNull(value)
  if (typeof value === "bigint") return value.toString()
  return value
}

/** `value` as 2-space JSON (insertion order; Options as value-or-null). */
export const formatJson = (value: unknown): string => JSON.stringify(value, jsonReplacer, 2) ?? "null"

/** Prints `value` as 2-space JSON on stdout. */
export const printJson = (value: unknown): Effect.Effect<void> => Console.log(formatJson(value))

/** Prints one line on stdout. */
export const printLine = (text: string): Effect.Effect<void> => Console.log(text)

export interface Column<R> {
  readonly header: string
  readonly get: (row: R) => string
}

// Control characters (terminal escapes, newlines) from data must not reach the terminal raw.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]+/g

const cell = (text: string): string => text.replace(CONTROL_RE, " ")

/**
 * Rows as left-aligned columns separated by two spaces, under a header line,
 * without trailing spaces. No rows gives `(none)`.
 */
export const renderTable = <R>(columns: ReadonlyArray<Column<R>>, rows: ReadonlyArray<R>): string => {
  if (rows.length === 0) return "(none)"
  const grid = [columns.map((c) => cell(c.header)), ...rows.map((row) => columns.map((c) => cell(c.get(row))))]
  const widths = columns.map((_, i) => Math.max(...grid.map((line) => (line[i] ?? "").length)))
  return grid
    .map((line) => line.map((text, i) => text.padEnd(widths[i] ?? 0)).join("  ").trimEnd())
    .join("\n")
}

/** Prints `renderTable(columns, rows)` on stdout. */
export const printTable = <R>(columns: ReadonlyArray<Column<R>>, rows: ReadonlyArray<R>): Effect.Effect<void> =>
  Console.log(renderTable(columns, rows))

/** `label  value` lines with the values aligned (for `show`-style output of one record). */
export const renderFields = (fields: ReadonlyArray<readonly [label: string, value: string]>): string => {
  const width = Math.max(0, ...fields.map(([label]) => label.length + 1))
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width)}  ${cell(value)}`.trimEnd()).join("\n")
}

/** Prints `renderFields(fields)` on stdout. */
export const printFields = (fields: ReadonlyArray<readonly [label: string, value: string]>): Effect.Effect<void> =>
  Console.log(renderFields(fields))

// ---------------------------------------------------------------------------
// Time

export type TimeInput = DateTime.DateTime | Date | number | string | null | undefined

const toMillis = (time: TimeInput): number | undefined => {
  if (time === null || time === undefined) return undefined
  if (DateTime.isDateTime(time)) return DateTime.toEpochMillis(time)
  const millis = time instanceof Date ? time.getTime() : typeof time === "number" ? time : Date.parse(time)
  return Number.isFinite(millis) ? millis : undefined
}

/** ISO 8601 in UTC to the second (`2025-01-31T09:05:00Z`); `-` for none. */
export const formatTime = (time: TimeInput): string => {
  const millis = toMillis(time)
  return millis === undefined ? "-" : new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")
}

/**
 * How long ago (or until) `time`, coarsely: `just now`, `5m ago`, `in 3h`,
 * `2d ago`, `4mo ago`, `1y ago`; `never` for none. `now` defaults to the
 * wall clock.
 */
export const formatRelative = (time: TimeInput, now: TimeInput = Date.now()): string => {
  const millis = toMillis(time)
  const nowMillis = toMillis(now) ?? Date.now()
  if (millis === undefined) return "never"
  const seconds = Math.round((nowMillis - millis) / 1000)
  const abs = Math.abs(seconds)
  if (abs < 45) return "just now"
  const minutes = Math.round(abs / 60)
  const hours = Math.round(abs / 3600)
  const days = Math.round(abs / 86400)
  const amount = minutes < 60
    ? `${minutes}m`
    : hours < 24
    ? `${hours}h`
    : days < 30
    ? `${days}d`
    : days < 365
    ? `${Math.round(days / 30)}mo`
    : `${Math.round(days / 365)}y`
  return seconds >= 0 ? `${amount} ago` : `in ${amount}`
}

// ---------------------------------------------------------------------------
// stdin

const STDIN_LIMIT = 1024 * 1024

export interface StdinService {
  /** True when stdin is an interactive terminal, i.e. someone can answer a prompt. */
  readonly isTTY: Effect.Effect<boolean>
  /**
   * Reads stdin to its end (at most 1 MiB); from an interactive terminal,
   * up to the first newline.
   */
  readonly readAll: Effect.Effect<string, CliError>
}

const nodeStdin: StdinService = {
  isTTY: Effect.sync(() => process.stdin.isTTY === true),
  readAll: Effect.async<string, CliError>((resume) => {
    const stdin = process.stdin
    if (stdin.readableEnded) {
      resume(Effect.succeed(""))
      return
    }
    const interactive = stdin.isTTY === true
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      stdin.off("data", onData)
      stdin.off("end", onEnd)
      stdin.off("error", onError)
      stdin.pause()
    }
    const finish = () => {
      cleanup()
      resume(Effect.succeed(Buffer.concat(chunks).toString("utf8")))
    }
    function onData(chunk: Buffer | string) {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk
      chunks.push(buffer)
      size += buffer.length
      if (size > STDIN_LIMIT) {
        cleanup()
        resume(Effect.fail(new CliError({ message: "stdin is larger than 1 MiB", exitCode: 2 })))
      } else if (interactive && buffer.includes(0x0a)) {
        finish()
      }
    }
    function onEnd() {
      finish()
    }
    function onError(error: Error) {
      cleanup()
      resume(Effect.fail(new CliError({ message: `cannot read stdin: ${error.message}` })))
    }
    stdin.on("data", onData)
    stdin.once("end", onEnd)
    stdin.once("error", onError)
    stdin.resume()
    return Effect.sync(cleanup)
  })
}

/** The process's stdin; provide `Stdin.fixed(…)` in tests. */
export class Stdin extends Context.Reference<Stdin>()("tether/cli/Stdin", {
  defaultValue: (): StdinService => nodeStdin
}) {
  /** A stdin holding `text` (not a terminal unless `isTTY`). */
  static fixed = (text: string, options: { readonly isTTY?: boolean } = {}): StdinService => ({
    isTTY: Effect.succeed(options.isTTY ?? false),
    readAll: Effect.succeed(text)
  })
}
