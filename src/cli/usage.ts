/**
 * `tether usage` (admin): gateway requests per inference key — totals, then
 * the most recent requests with status, tokens and latency.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { UsageEntry, UsageTotal } from "../domain/usage.js"
import { CliError } from "./errors.js"
import { formatTime, printJson, printTable } from "./output.js"
import { withClient } from "./remote.js"
import { resolveTarget, targetOptions } from "./target.js"

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** `--since`: an ISO time, or a duration back from `now` such as `30m`, `24h`, `7d`, `2w`. */
export const parseSince = (text: string, now: number): Option.Option<DateTime.Utc> => {
  const relative = /^(\d+)\s*([mhdw])$/.exec(text.trim())
  if (relative !== null) {
    return Option.some(DateTime.unsafeMake(now - Number(relative[1]) * (UNIT_MS[relative[2] ?? "m"] ?? 0)))
  }
  return DateTime.make(text.trim()).pipe(Option.filter(() => /^\d{4}-\d{2}-\d{2}/.test(text.trim())))
}

const entryJson = (e: UsageEntry) => ({ ...e, at: DateTime.formatIso(e.at) })

export const usageCommand = Command.make(
  "usage",
  {
    ...targetOptions,
    key: Options.text("key").pipe(Options.withDescription("only this inference key (id or prefix)"), Options.optional),
    since: Options.text("since").pipe(
      Options.withDescription("only requests since an ISO time or a duration ago (30m, 24h, 7d, 2w)"),
      Options.optional
    ),
    limit: Options.integer("limit").pipe(Options.withDescription("recent requests to show (1–1000)"), Options.withDefault(20)),
    json: Options.boolean("json").pipe(Options.withDescription("print JSON"))
  },
  (opts) =>
    Effect.gen(function*() {
      const since = Option.isSome(opts.since) ? parseSince(opts.since.value, Date.now()) : Option.none()
      if (Option.isSome(opts.since) && Option.isNone(since)) {
        return yield* new CliError({
          message: `--since: ${JSON.stringify(opts.since.value)} is neither an ISO time nor a duration like 24h or 7d`,
          exitCode: 2
        })
      }
      if (opts.limit < 1 || opts.limit > 1000) return yield* new CliError({ message: "--limit must be 1–1000", exitCode: 2 })
      const target = yield* resolveTarget(opts)
      const report = yield* withClient(target, (client) =>
        client.usage.report({
          urlParams: {
            limit: opts.limit,
            ...(Option.isSome(opts.key) ? { key: opts.key.value } : {}),
            ...(Option.isSome(since) ? { since: since.value } : {})
          }
        }))
      if (opts.json) return yield* printJson({ totals: report.totals, entries: report.entries.map(entryJson) })
      const count = (n: number | null) => (n === null ? "-" : String(n))
      yield* printTable(
        [
          { header: "KEY", get: (t: UsageTotal) => `${t.keyPrefix}… (${t.keyId})` },
          { header: "REQUESTS", get: (t: UsageTotal) => String(t.requests) },
          { header: "ERRORS", get: (t: UsageTotal) => String(t.errors) },
          { header: "INPUT TOKENS", get: (t: UsageTotal) => String(t.inputTokens) },
          { header: "OUTPUT TOKENS", get: (t: UsageTotal) => String(t.outputTokens) }
        ],
        report.totals
      )
      if (report.entries.length === 0) return
      yield* Console.log("")
      yield* printTable(
        [
          { header: "AT", get: (e: UsageEntry) => formatTime(e.at) },
          { header: "KEY", get: (e: UsageEntry) => `${e.keyPrefix}…` },
          { header: "MODEL", get: (e: UsageEntry) => e.model || "-" },
          { header: "STATUS", get: (e: UsageEntry) => String(e.status) },
          { header: "IN", get: (e: UsageEntry) => count(e.inputTokens) },
          { header: "OUT", get: (e: UsageEntry) => count(e.outputTokens) },
          { header: "TTFB MS", get: (e: UsageEntry) => count(e.firstByteMs) },
          { header: "MS", get: (e: UsageEntry) => String(e.latencyMs) },
          { header: "ERROR", get: (e: UsageEntry) => e.error ?? "" }
        ],
        report.entries
      )
    })
).pipe(Command.withDescription("gateway usage per inference key (admin)"))
