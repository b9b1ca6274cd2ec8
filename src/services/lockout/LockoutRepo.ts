/**
 * LockoutRepo: failed password attempts per client address (`connect_failures`).
 *
 * Failures count within a window that starts at the first failure. Reaching
 * `maxFailures` inside the window locks the address for `lockMs`. A failure
 * after the window or after an expired lock starts a fresh window.
 *
 * Kept in the database so a lockout survives restarts and holds across
 * server instances sharing one PostgreSQL database.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { column, EpochMillis, NullableEpochMillis } from "../storage/columns.js"

export interface LockoutPolicy {
  readonly maxFailures: number
  readonly windowMs: number
  readonly lockMs: number
}

export interface LockoutStatus {
  /** When the lock ends (epoch ms); null when the address is not locked now. */
  readonly lockedUntil: number | null
}

export interface FailureRecorded {
  /** Failures counted in the current window, this one included. */
  readonly failures: number
  /** Set when the address is locked now (by this failure or an earlier one). */
  readonly lockedUntil: number | null
}

const FailureRecord = Schema.Struct({
  failures: Schema.Int,
  windowStartedAt: column("window_started_at", EpochMillis),
  lockedUntil: column("locked_until", NullableEpochMillis)
})
type FailureRecord = typeof FailureRecord.Type

/** The counter after one more failure at `now`. Pure, so the rules are testable on their own. */
export const nextFailureRecord = (
  current: FailureRecord | undefined,
  now: number,
  policy: LockoutPolicy
): FailureRecord => {
  if (current !== undefined && current.lockedUntil !== null && current.lockedUntil > now) {
    // Still locked: count the attempt, keep the lock as it is.
    return { ...current, failures: current.failures + 1 }
  }
  const fresh = current === undefined ||
    current.failures === 0 ||
    current.lockedUntil !== null ||
    now - current.windowStartedAt >= policy.windowMs
  const failures = fresh ? 1 : current.failures + 1
  return {
    failures,
    windowStartedAt: fresh ? now : current.windowStartedAt,
    lockedUntil: failures >= policy.maxFailures ? now + policy.lockMs : null
  }
}

export class LockoutRepo extends Effect.Service<LockoutRepo>()("tether/LockoutRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // PostgreSQL: lock the row for the rest of the transaction so concurrent
    // failures from one address queue up. SQLite allows one writer at a time,
    // and the INSERT below already made this transaction the writer.
    const forUpdate = sql.onDialectOrElse({
      pg: () => sql.literal("FOR UPDATE"),
      orElse: () => sql.literal("")
    })

    const findRecord = SqlSchema.findOne({
      Request: Schema.String,
      Result: FailureRecord,
      execute: (address) =>
        sql`SELECT failures, window_started_at, locked_until FROM connect_failures WHERE address = ${address}`
    })

    const findRecordForUpdate = SqlSchema.findOne({
      Request: Schema.String,
      Result: FailureRecord,
      execute: (address) =>
        sql`SELECT failures, window_started_at, locked_until FROM connect_failures
            WHERE address = ${address} ${forUpdate}`
    })

    const status: (address: string, now: number) => Effect.Effect<LockoutStatus> = Effect.fn("LockoutRepo.status")(
      function*(address: string, now: number) {
        const record = yield* findRecord(address)
        const lockedUntil = Option.isSome(record) && record.value.lockedUntil !== null &&
            record.value.lockedUntil > now
          ? record.value.lockedUntil
          : null
        return { lockedUntil }
      },
      Effect.orDie
    )

    const recordFailure: (address: string, now: number, policy: LockoutPolicy) => Effect.Effect<FailureRecorded> =
      Effect.fn("LockoutRepo.recordFailure")(
        function*(address: string, now: number, policy: LockoutPolicy) {
          // Make sure the row exists (a zero counter) so there is something to lock;
          // a concurrent insert of the same address waits here, then does nothing.
          yield* sql`INSERT INTO connect_failures (address, failures, window_started_at, locked_until)
                     VALUES (${address}, 0, ${now}, NULL)
                     ON CONFLICT (address) DO NOTHING`
          const current = yield* findRecordForUpdate(address)
          const next = nextFailureRecord(Option.getOrUndefined(current), now, policy)
          yield* sql`UPDATE connect_failures
                     SET failures = ${next.failures},
                         window_started_at = ${next.windowStartedAt},
                         locked_until = ${next.lockedUntil}
                     WHERE address = ${address}`
          return { failures: next.failures, lockedUntil: next.lockedUntil }
        },
        sql.withTransaction,
        Effect.orDie
      )

    /** Forgets the failures of an address (after a successful login). */
    const clear: (address: string) => Effect.Effect<void> = Effect.fn("LockoutRepo.clear")(
      function*(address: string) {
        yield* sql`DELETE FROM connect_failures WHERE address = ${address}`
      },
      Effect.orDie
    )

    return { status, recordFailure, clear } as const
  })
}) {}
