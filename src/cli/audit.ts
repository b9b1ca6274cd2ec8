/** `tether audit`: the server's audit log, newest first. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { AuditEntry } from "../domain/audit.js"
import { AuditAction } from "../domain/audit.js"
import { CliError } from "./errors.js"
import { formatTime, printJson, printTable } from "./output.js"
import { withClient } from "./remote.js"
import { resolveTarget, targetOptions } from "./target.js"

const auditJson = (e: AuditEntry) => ({
  id: e.id,
  at: DateTime.formatIso(e.at),
  action: e.action,
  actor: e.actor,
  peer: e.peer,
  outcome: e.outcome,
  detail: e.detail
})

export const auditCommand = Command.make(
  "audit",
  {
    ...targetOptions,
    action: Options.choice("action", AuditAction.literals).pipe(Options.optional),
    actor: Options.text("actor").pipe(Options.withDescription("substring of the actor"), Options.optional),
    since: Options.text("since").pipe(Options.withDescription("ISO time, e.g. 2026-11-01T00:00:00Z"), Options.optional),
    limit: Options.integer("limit").pipe(Options.withDefault(50)),
    cursor: Options.text("cursor").pipe(Options.withDescription("continue from a previous page"), Options.optional),
    json: Options.boolean("json")
  },
  (opts) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget(opts)
      const since = yield* Option.match(opts.since, {
        onNone: () => Effect.succeed(Option.none<DateTime.Utc>()),
        onSome: (text) =>
          Option.match(DateTime.make(text), {
            onNone: () => Effect.fail(new CliError({ message: `--since: not a date/time: ${text}`, exitCode: 2 })),
            onSome: (dt) => Effect.succeed(Option.some(DateTime.toUtc(dt)))
          })
      })
      if (opts.limit < 1 || opts.limit > 500) {
        return yield* new CliError({ message: "--limit must be between 1 and 500", exitCode: 2 })
      }
      const page = yield* withClient(target, (client) =>
        client.audit.list({
          urlParams: {
            limit: opts.limit,
            ...(Option.isSome(opts.action) ? { action: opts.action.value } : {}),
            ...(Option.isSome(opts.actor) ? { actor: opts.actor.value } : {}),
            ...(Option.isSome(since) ? { since: since.value } : {}),
            ...(Option.isSome(opts.cursor) ? { cursor: opts.cursor.value } : {})
          }
        }))
      if (opts.json) {
        return yield* printJson({ entries: page.entries.map(auditJson), nextCursor: page.nextCursor })
      }
      yield* printTable(
        [
          { header: "TIME", get: (e: AuditEntry) => formatTime(e.at) },
          { header: "ACTION", get: (e: AuditEntry) => e.action },
          { header: "OUTCOME", get: (e: AuditEntry) => e.outcome },
          { header: "ACTOR", get: (e: AuditEntry) => e.actor },
          { header: "PEER", get: (e: AuditEntry) => e.peer ?? "-" },
          { header: "DETAIL", get: (e: AuditEntry) => e.detail ?? "" }
        ],
        page.entries
      )
      if (page.nextCursor !== null) yield* Effect.sync(() => process.stderr.write(`more: --cursor ${page.nextCursor}\n`))
    })
).pipe(Command.withDescription("show the audit log (admin): connects, lockouts, token and password changes"))
