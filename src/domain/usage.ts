/**
 * Gateway usage as the API shows it: one entry per inference request (who,
 * which model, status, tokens, timing) and totals per key over the same filter.
 */
import * as Schema from "effect/Schema"
import { ProviderFormat } from "./provider.js"

export const UsageEntry = Schema.Struct({
  id: Schema.String,
  at: Schema.DateTimeUtc,
  keyId: Schema.String,
  keyPrefix: Schema.String,
  /** The client-facing format (which endpoint was called). */
  format: ProviderFormat,
  /** `provider/model` as the client asked for it. */
  model: Schema.String,
  /** HTTP status the client got; 499 when the client went away first. */
  status: Schema.Int,
  inputTokens: Schema.NullOr(Schema.Int),
  outputTokens: Schema.NullOr(Schema.Int),
  /** Request received → last byte sent. */
  latencyMs: Schema.Int,
  /** Request received → first body byte from the provider; null when none came. */
  firstByteMs: Schema.NullOr(Schema.Int),
  error: Schema.NullOr(Schema.String)
}).annotations({ identifier: "UsageEntry" })
export type UsageEntry = typeof UsageEntry.Type

export const UsageTotal = Schema.Struct({
  keyId: Schema.String,
  keyPrefix: Schema.String,
  requests: Schema.Int,
  errors: Schema.Int,
  inputTokens: Schema.Int,
  outputTokens: Schema.Int
}).annotations({ identifier: "UsageTotal" })
export type UsageTotal = typeof UsageTotal.Type

export const UsageReport = Schema.Struct({
  /** Newest first, at most `limit`. */
  entries: Schema.Array(UsageEntry),
  /** Every matching request, per key, most requests first. */
  totals: Schema.Array(UsageTotal)
}).annotations({ identifier: "UsageReport" })
export type UsageReport = typeof UsageReport.Type

export const UsageQuery = Schema.Struct({
  /** A key id or unambiguous prefix (`tsk_AbC…`). */
  key: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64))),
  since: Schema.optional(Schema.DateTimeUtc),
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000)))
})
export type UsageQuery = typeof UsageQuery.Type
