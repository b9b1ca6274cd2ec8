/** AuditLog: records who did what to credentials and pages through it newest first. */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { type AuditAction, AuditEntry, type AuditOutcome, AuditPage, type AuditQuery } from "../../domain/audit.js"
import { InvalidRequest } from "../../domain/errors.js"
import { newId } from "../tokens/secret.js"
import { decodeCursor, encodeCursor } from "../storage/cursor.js"
import { AuditRepo } from "./AuditRepo.js"

export interface AuditRecord {
  readonly action: AuditAction
  readonly actor: string
  readonly peer: string | null
  readonly outcome: AuditOutcome
  readonly detail?: string | undefined
}

const DEFAULT_PAGE = 50

export class AuditLog extends Effect.Service<AuditLog>()("tether/AuditLog", {
  effect: Effect.gen(function*() {
    const repo = yield* AuditRepo

    const record = Effect.fn("AuditLog.record")(function*(entry: AuditRecord) {
      yield* repo.append({
        id: newId("aud"),
        at: yield* Clock.currentTimeMillis,
        action: entry.action,
        actor: entry.actor,
        peer: entry.peer,
        outcome: entry.outcome,
        detail: entry.detail ?? null
      })
    })

    const list = Effect.fn("AuditLog.list")(function*(query: AuditQuery): Effect.fn.Return<AuditPage, InvalidRequest> {
      const limit = query.limit ?? DEFAULT_PAGE
      const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
      if (query.cursor !== undefined && before === undefined) {
        return yield* new InvalidRequest({ error: "cursor is not one this server handed out" })
      }
      const rows = yield* repo.list({
        limit: limit + 1,
        ...(query.action !== undefined ? { action: query.action } : {}),
        ...(query.actor !== undefined ? { actor: query.actor } : {}),
        ...(query.since !== undefined ? { since: DateTime.toEpochMillis(query.since) } : {}),
        ...(before !== undefined ? { before } : {})
      })
      const page = rows.slice(0, limit)
      const last = page[page.length - 1]
      return new AuditPage({
        entries: page.map((row) =>
          new AuditEntry({
            id: row.id,
            at: DateTime.unsafeMake(row.at),
            action: row.action,
            actor: row.actor,
            peer: row.peer,
            outcome: row.outcome,
            detail: row.detail
          })
        ),
        nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last) : null
      })
    })

    return { record, list } as const
  })
}) {}
