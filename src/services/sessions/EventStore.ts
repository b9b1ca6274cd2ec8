/**
 * EventStore: the append-only event log of every session (`session_events`).
 *
 * Each append is one transaction that holds the session's row, so the seqs
 * of one session are 1, 2, 3 … with no gap and no duplicate however many
 * writers there are, and `sessions.last_seq` (plus the status columns, from
 * `status` events) always matches the log.
 *
 * Events from a runner carry its per-session sequence `rseq`
 * (see `domain/rpc/tunnel.ts`). `appendFromRunner` stores each rseq once, in
 * order: entries it already has are skipped, so a runner may resend after a
 * reconnect; a batch that would leave a hole is refused whole.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Arr from "effect/Array"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import {
  SessionEvent,
  SessionEventRecord,
  type SessionEventType,
  type StatusEvent
} from "../../domain/session-event.js"
import { column, EpochMillis } from "../storage/columns.js"

/** The session does not exist (never created, or deleted). */
export class SessionMissing extends Data.TaggedError("SessionMissing")<{
  readonly sessionId: string
}> {}

/**
 * A runner batch skipped ahead: the next rseq the store needs is `expected`,
 * the batch offered `got` instead. Nothing of the batch was stored, so the
 * store holds everything through `expected - 1`; the runner should resend
 * from `expected`.
 */
export class RseqGap extends Data.TaggedError("RseqGap")<{
  readonly sessionId: string
  readonly expected: number
  readonly got: number
}> {}

export interface RunnerEntry {
  readonly rseq: number
  readonly event: SessionEvent
}

export interface RunnerAppended {
  /** What this call stored (empty when the batch held nothing new). */
  readonly records: ReadonlyArray<SessionEventRecord>
  /** The highest rseq stored for the session, this batch included. */
  readonly ackedThrough: number
}

/** Rows per INSERT: well below the bind-parameter limits of both databases. */
const INSERT_CHUNK = 500

/** A SessionEventRecord as stored: the event as JSON in `payload`, its type alongside for queries. */
const StoredEvent = Schema.transform(
  Schema.Struct({
    sessionId: column("session_id", Schema.String),
    seq: Schema.Int,
    at: Schema.compose(EpochMillis, Schema.DateTimeUtcFromNumber),
    type: Schema.String,
    event: column("payload", Schema.parseJson(SessionEvent))
  }),
  Schema.typeSchema(SessionEventRecord),
  {
    strict: true,
    // The fields were just decoded by the schemas above.
    decode: ({ at, event, seq, sessionId }) =>
      new SessionEventRecord({ sessionId, seq, at, event }, { disableValidation: true }),
    encode: (record) => ({
      sessionId: record.sessionId,
      seq: record.seq,
      at: record.at,
      type: record.event.type,
      event: record.event
    })
  }
)

const SessionCounters = Schema.Struct({
  lastSeq: column("last_seq", Schema.Int),
  lastRseq: column("last_rseq", Schema.Int)
})
type SessionCounters = typeof SessionCounters.Type

const isStatusEvent = (event: SessionEvent): event is typeof StatusEvent.Type => event.type === "status"

/** Session ids per query in `lastSeqs` (well under both databases' parameter limits). */
const LAST_SEQS_BATCH = 500

export class EventStore extends Effect.Service<EventStore>()("tether/EventStore", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // PostgreSQL: FOR UPDATE holds the session row until commit, so
    // concurrent appends to one session queue up and each reads the counters
    // the previous one left. SQLite allows one writer at a time; the no-op
    // UPDATE in `lockSession` makes this transaction the writer before it
    // reads (a transaction that read first could not become the writer while
    // another one is).
    const forUpdate = sql.onDialectOrElse({
      pg: () => sql.literal("FOR UPDATE"),
      orElse: () => sql.literal("")
    })

    const findCounters = SqlSchema.findOne({
      Request: Schema.String,
      Result: SessionCounters,
      execute: (sessionId) => sql`SELECT last_seq, last_rseq FROM sessions WHERE id = ${sessionId}`
    })

    const findCountersForUpdate = SqlSchema.findOne({
      Request: Schema.String,
      Result: SessionCounters,
      execute: (sessionId) => sql`SELECT last_seq, last_rseq FROM sessions WHERE id = ${sessionId} ${forUpdate}`
    })

    const insertRecords = SqlSchema.void({
      Request: Schema.Array(StoredEvent),
      execute: (rows) => sql`INSERT INTO session_events ${sql.insert(rows)}`
    })

    const findRecordsAfter = SqlSchema.findAll({
      Request: Schema.Struct({ sessionId: Schema.String, after: Schema.Int, limit: Schema.NonNegativeInt }),
      Result: StoredEvent,
      execute: ({ after, limit, sessionId }) =>
        sql`SELECT * FROM session_events
            WHERE session_id = ${sessionId} AND seq > ${after}
            ORDER BY seq
            LIMIT ${limit}`
    })

    const findRecordsOfTypes = SqlSchema.findAll({
      Request: Schema.Struct({ sessionId: Schema.String, types: Schema.Array(Schema.String) }),
      Result: StoredEvent,
      execute: ({ sessionId, types }) =>
        sql`SELECT * FROM session_events
            WHERE session_id = ${sessionId} AND ${sql.in("type", types)}
            ORDER BY seq`
    })

    const countEvents = SqlSchema.single({
      Request: Schema.String,
      Result: Schema.Struct({ count: Schema.Int, maxSeq: column("max_seq", Schema.Int) }),
      execute: (sessionId) =>
        sql`SELECT CAST(COUNT(*) AS INT) AS count, CAST(COALESCE(MAX(seq), 0) AS INT) AS max_seq
            FROM session_events WHERE session_id = ${sessionId}`
    })

    /** The session's counters, with its row held until the transaction ends. */
    const lockSession = Effect.fnUntraced(function*(sessionId: string) {
      yield* sql.onDialectOrElse({
        pg: () => Effect.void,
        orElse: () => Effect.asVoid(sql`UPDATE sessions SET last_seq = last_seq WHERE id = ${sessionId}`)
      })
      const counters = yield* findCountersForUpdate(sessionId)
      if (Option.isNone(counters)) return yield* new SessionMissing({ sessionId })
      return counters.value
    })

    /**
     * Stores `events` after the locked session's last seq and brings the
     * session row up to date, `last_rseq` included.
     */
    const appendLocked = Effect.fnUntraced(function*(
      sessionId: string,
      counters: SessionCounters,
      events: ReadonlyArray<SessionEvent>,
      now: number,
      lastRseq: number
    ) {
      const at = DateTime.unsafeMake(now)
      // Not validated here: encoding the rows for the INSERT checks each event (a bad one is a defect).
      const records = events.map((event, index) =>
        new SessionEventRecord({ sessionId, seq: counters.lastSeq + index + 1, at, event }, { disableValidation: true })
      )
      for (const chunk of Arr.chunksOf(records, INSERT_CHUNK)) {
        yield* insertRecords(chunk)
      }
      const status = Arr.findLast(events, isStatusEvent)
      const changes = [
        sql`last_seq = ${counters.lastSeq + records.length}`,
        sql`last_rseq = ${lastRseq}`,
        sql`updated_at = ${now}`,
        ...Option.match(status, {
          onNone: () => [],
          onSome: (event) => [
            sql`status = ${event.status}`,
            sql`status_reason = ${event.reason}`,
            sql`exit_code = ${event.exitCode}`
          ]
        })
      ]
      yield* sql`UPDATE sessions SET ${sql.csv(changes)} WHERE id = ${sessionId}`
      return records
    })

    /**
     * Appends events with the next seqs of the session, in one transaction.
     * The session's `lastSeq` and `updatedAt` follow, and its status columns
     * take the values of the last `status` event of the batch, if any.
     */
    const append: (
      sessionId: string,
      events: ReadonlyArray<SessionEvent>,
      now: number
    ) => Effect.Effect<ReadonlyArray<SessionEventRecord>, SessionMissing> = Effect.fn("EventStore.append")(
      function*(sessionId: string, events: ReadonlyArray<SessionEvent>, now: number) {
        const counters = yield* lockSession(sessionId)
        if (events.length === 0) return []
        return yield* appendLocked(sessionId, counters, events, now, counters.lastRseq)
      },
      sql.withTransaction,
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })
    )

    /**
     * Appends a runner batch, in one transaction. Entries whose rseq is
     * already stored (or repeated within the batch) are skipped; the rest
     * must continue the stored rseqs without a hole, else the call fails
     * with `RseqGap` and stores nothing. Sending the same batch twice stores
     * it once.
     */
    const appendFromRunner: (
      sessionId: string,
      batch: ReadonlyArray<RunnerEntry>,
      now: number
    ) => Effect.Effect<RunnerAppended, SessionMissing | RseqGap> = Effect.fn("EventStore.appendFromRunner")(
      function*(sessionId: string, batch: ReadonlyArray<RunnerEntry>, now: number) {
        const counters = yield* lockSession(sessionId)
        const fresh: Array<SessionEvent> = []
        let next = counters.lastRseq + 1
        for (const entry of batch) {
          if (entry.rseq < next) continue
          if (entry.rseq > next) return yield* new RseqGap({ sessionId, expected: next, got: entry.rseq })
          fresh.push(entry.event)
          next += 1
        }
        if (fresh.length === 0) return { records: [], ackedThrough: counters.lastRseq }
        const ackedThrough = next - 1
        const records = yield* appendLocked(sessionId, counters, fresh, now, ackedThrough)
        return { records, ackedThrough }
      },
      sql.withTransaction,
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })
    )

    /** Up to `limit` events with seq greater than `after`, in seq order. */
    const readAfter: (
      sessionId: string,
      after: number,
      limit: number
    ) => Effect.Effect<ReadonlyArray<SessionEventRecord>> = Effect.fn("EventStore.readAfter")(
      function*(sessionId: string, after: number, limit: number) {
        return yield* findRecordsAfter({ sessionId, after, limit })
      },
      Effect.orDie
    )

    /** Every event of the session whose type is one of `types`, in seq order. */
    const readByTypes: (
      sessionId: string,
      types: ReadonlyArray<SessionEventType>
    ) => Effect.Effect<ReadonlyArray<SessionEventRecord>> = Effect.fn("EventStore.readByTypes")(
      function*(sessionId: string, types: ReadonlyArray<SessionEventType>) {
        if (types.length === 0) return []
        return yield* findRecordsOfTypes({ sessionId, types })
      },
      Effect.orDie
    )

    /** The seq of the session's newest event (0 when it has none); none if the session does not exist. */
    const lastSeq: (sessionId: string) => Effect.Effect<Option.Option<number>> = Effect.fn("EventStore.lastSeq")(
      function*(sessionId: string) {
        return Option.map(yield* findCounters(sessionId), (counters) => counters.lastSeq)
      },
      Effect.orDie
    )

    /**
     * Copies the events of `fromSessionId` with seq 1…`upToSeq` into the new
     * session `toSessionId`, keeping their seqs and times, and sets its
     * `lastSeq`; one transaction. Returns how many events were copied. The
     * target must have no events yet (a defect otherwise); its status is left
     * to the caller.
     */
    const copyHistory: (
      fromSessionId: string,
      toSessionId: string,
      upToSeq: number,
      now: number
    ) => Effect.Effect<number, SessionMissing> = Effect.fn("EventStore.copyHistory")(
      function*(fromSessionId: string, toSessionId: string, upToSeq: number, now: number) {
        const target = yield* lockSession(toSessionId)
        if (Option.isNone(yield* findCounters(fromSessionId))) {
          return yield* new SessionMissing({ sessionId: fromSessionId })
        }
        if (target.lastSeq !== 0) {
          return yield* Effect.dieMessage(`EventStore.copyHistory: session ${toSessionId} already has events`)
        }
        yield* sql`INSERT INTO session_events (session_id, seq, at, type, payload)
                   SELECT CAST(${toSessionId} AS TEXT), seq, at, type, payload FROM session_events
                   WHERE session_id = ${fromSessionId} AND seq <= ${upToSeq}`
        const copied = yield* countEvents(toSessionId)
        yield* sql`UPDATE sessions SET last_seq = ${copied.maxSeq}, updated_at = ${now} WHERE id = ${toSessionId}`
        return copied.count
      },
      sql.withTransaction,
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die, NoSuchElementException: Effect.die })
    )

    /**
     * The seq of each listed session's newest event, in one query per
     * LAST_SEQS_BATCH ids; sessions that do not exist are left out.
     */
    const lastSeqs: (sessionIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, number>> = Effect.fn("EventStore.lastSeqs")(
      function*(sessionIds: ReadonlyArray<string>) {
        const found = new Map<string, number>()
        for (let i = 0; i < sessionIds.length; i += LAST_SEQS_BATCH) {
          const rows = yield* sql<{ readonly id: string; readonly last_seq: number | string }>`
            SELECT id, last_seq FROM sessions WHERE ${sql.in("id", sessionIds.slice(i, i + LAST_SEQS_BATCH))}`
          for (const row of rows) found.set(row.id, Number(row.last_seq))
        }
        return found
      },
      Effect.orDie
    )

    return { append, appendFromRunner, readAfter, readByTypes, lastSeq, lastSeqs, copyHistory } as const
  })
}) {}
