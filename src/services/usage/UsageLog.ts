/**
 * UsageLog: records one entry per gateway request without making the
 * request wait. `record` only enqueues; a background fiber wakes on the first
 * entry, lets more gather for USAGE_FLUSH_DELAY, then writes them all in one
 * transaction (and whatever is left when the server stops). Batching matters
 * on SQLite, whose commits run on the event loop that also relays streams:
 * one commit per second instead of one per request. `report` (answering
 * `GET /v1/usage`) flushes first, so it always includes every finished request.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Chunk from "effect/Chunk"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import { AmbiguousToken, TokenNotFound } from "../../domain/errors.js"
import type { UsageQuery, UsageReport } from "../../domain/usage.js"
import { newId } from "../tokens/secret.js"
import { TokenStore } from "../tokens/TokenStore.js"
import { UsageRepo, type UsageRow } from "./UsageRepo.js"

/** At most this many rows per INSERT. */
const BATCH = 200
/** How long entries gather before they are written. */
export const USAGE_FLUSH_DELAY = Duration.seconds(1)
const DEFAULT_LIMIT = 50

export type UsageRecord = Omit<UsageRow, "id">

export class UsageLog extends Effect.Service<UsageLog>()("tether/UsageLog", {
  scoped: Effect.gen(function*() {
    const repo = yield* UsageRepo
    const sql = yield* SqlClient.SqlClient
    const tokens = yield* TokenStore
    const queue = yield* Queue.unbounded<UsageRow>()
    const lock = yield* Effect.makeSemaphore(1)

    /** Writes everything queued, in one transaction, BATCH rows per INSERT. */
    const writeQueued: Effect.Effect<void> = lock.withPermits(1)(
      Effect.gen(function*() {
        const rows = Chunk.toReadonlyArray(yield* Queue.takeAll(queue))
        if (rows.length === 0) return
        const batches = Chunk.chunksOf(Chunk.fromIterable(rows), BATCH)
        yield* sql.withTransaction(
          Effect.forEach(batches, (batch) => repo.append(Chunk.toReadonlyArray(batch)), { discard: true })
        ).pipe(Effect.orDie)
      })
    )

    // Entries stay in `queue` until written (so `flush` sees them); `dirty` only wakes the writer.
    const dirty = yield* Queue.sliding<void>(1)
    yield* Queue.take(dirty).pipe(
      Effect.zipRight(Effect.sleep(USAGE_FLUSH_DELAY)),
      Effect.zipRight(writeQueued),
      Effect.catchAllDefect((defect) => Effect.logError("could not record gateway usage", defect)),
      Effect.forever,
      Effect.forkScoped
    )

    const flush: Effect.Effect<void> = writeQueued.pipe(Effect.withSpan("UsageLog.flush"))
    yield* Effect.addFinalizer(() => Effect.catchAllDefect(flush, () => Effect.void))

    /** Enqueues one entry; never blocks. */
    const record = (entry: UsageRecord): Effect.Effect<void> =>
      Effect.sync(() => {
        Queue.unsafeOffer(queue, { id: newId("use"), ...entry })
        Queue.unsafeOffer(dirty, undefined)
      })

    const keyIdFor = Effect.fn("UsageLog.keyIdFor")(function*(
      idOrPrefix: string
    ): Effect.fn.Return<string, TokenNotFound | AmbiguousToken> {
      const rows = yield* tokens.list("inference")
      const exact = rows.filter((r) => r.id === idOrPrefix)
      const matches = exact.length > 0 ? exact : rows.filter((r) => r.prefix.startsWith(idOrPrefix))
      if (matches.length === 1) return (matches[0] as (typeof matches)[number]).id
      if (matches.length === 0) {
        return yield* new TokenNotFound({ idOrPrefix, error: `no inference key matches ${JSON.stringify(idOrPrefix)}` })
      }
      return yield* new AmbiguousToken({
        idOrPrefix,
        error: `${JSON.stringify(idOrPrefix)} matches ${matches.length} inference keys; use the id or a longer prefix`,
        matches: matches.map((m) => ({ id: m.id, prefix: m.prefix, name: m.name }))
      })
    })

    const report = Effect.fn("UsageLog.report")(function*(
      query: UsageQuery
    ): Effect.fn.Return<UsageReport, TokenNotFound | AmbiguousToken> {
      const keyId = query.key === undefined ? undefined : yield* keyIdFor(query.key)
      yield* flush
      const filter = { keyId, since: query.since === undefined ? undefined : DateTime.toEpochMillis(query.since) }
      const [rows, totals] = yield* Effect.all([repo.list({ ...filter, limit: query.limit ?? DEFAULT_LIMIT }), repo.totals(filter)])
      return {
        entries: rows.map((row) => ({ ...row, at: DateTime.unsafeMake(row.at) })),
        totals
      }
    })

    return { record, flush, report } as const
  })
}) {}
