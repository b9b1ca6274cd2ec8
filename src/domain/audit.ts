/** The audit log: who did what to credentials, from where, and how it went. */
import * as Schema from "effect/Schema"

export const AuditAction = Schema.Literal(
  "connect.success",
  "connect.failure",
  "connect.lockout",
  "token.created",
  "token.revoked",
  "password.changed",
  "key.created",
  "key.revoked",
  "provider.added",
  "provider.removed"
)
export type AuditAction = typeof AuditAction.Type

export const AuditOutcome = Schema.Literal("success", "failure")
export type AuditOutcome = typeof AuditOutcome.Type

export class AuditEntry extends Schema.Class<AuditEntry>("AuditEntry")({
  id: Schema.String,
  at: Schema.DateTimeUtc,
  action: AuditAction,
  /** A token's name and prefix, `password` for the password exchange, `local` for host-side commands. */
  actor: Schema.String,
  peer: Schema.NullOr(Schema.String),
  outcome: AuditOutcome,
  detail: Schema.NullOr(Schema.String)
}) {}

export class AuditPage extends Schema.Class<AuditPage>("AuditPage")({
  entries: Schema.Array(AuditEntry),
  /** Pass as `cursor` to get the next (older) page; null on the last page. */
  nextCursor: Schema.NullOr(Schema.String)
}) {}

export const AuditQuery = Schema.Struct({
  action: Schema.optional(AuditAction),
  actor: Schema.optional(Schema.String),
  since: Schema.optional(Schema.DateTimeUtc),
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500))),
  cursor: Schema.optional(Schema.String)
})
export type AuditQuery = typeof AuditQuery.Type
