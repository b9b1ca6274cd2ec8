/**
 * SessionJournal: the one way events enter a session. It persists them
 * (EventStore), then publishes them (SessionHub); a status event that
 * finishes the session also drops its undelivered commands.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { SessionNotFound } from "../../domain/errors.js"
import { isFinished, type SessionEvent, type SessionEventRecord } from "../../domain/session-event.js"
import { CommandQueue } from "./CommandQueue.js"
import { EventStore } from "./EventStore.js"
import { SessionHub } from "./SessionHub.js"

const finishes = (records: ReadonlyArray<SessionEventRecord>): boolean =>
  records.some((r) => r.event.type === "status" && isFinished(r.event.status))

export class SessionJournal extends Effect.Service<SessionJournal>()("tether/SessionJournal", {
  effect: Effect.gen(function*() {
    const store = yield* EventStore
    const hub = yield* SessionHub
    const commands = yield* CommandQueue

    const settle = (sessionId: string, records: ReadonlyArray<SessionEventRecord>) =>
      Effect.gen(function*() {
        if (finishes(records)) yield* commands.dropForSession(sessionId)
        yield* hub.publish(records)
      })

    /** Server-side events (status changes, user messages, approval decisions). */
    const record = Effect.fn("SessionJournal.record")(
      function*(sessionId: string, events: ReadonlyArray<SessionEvent>): Effect.fn.Return<
        ReadonlyArray<SessionEventRecord>,
        SessionNotFound
      > {
        const records = yield* store.append(sessionId, events, yield* Clock.currentTimeMillis).pipe(
          // Deleted while we were at it.
          Effect.catchTag("SessionMissing", () => new SessionNotFound({ sessionId, error: `no session ${sessionId}` }))
        )
        yield* settle(sessionId, records)
        return records
      }
    )

    /** Events a runner pushed, deduplicated by their runner sequence. */
    const recordFromRunner = Effect.fn("SessionJournal.recordFromRunner")(
      function*(sessionId: string, batch: ReadonlyArray<{ readonly rseq: number; readonly event: SessionEvent }>) {
        const result = yield* store.appendFromRunner(sessionId, batch, yield* Clock.currentTimeMillis)
        yield* settle(sessionId, result.records)
        return result
      }
    )

    return { record, recordFromRunner } as const
  })
}) {}
