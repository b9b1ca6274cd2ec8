/**
 * SessionHub: live fan-out of a session's events to its subscribers (SSE
 * clients, `tether sessions tail`, …).
 *
 * Events are persisted before they are published, so the EventStore is the
 * truth and the hub only makes delivery fast:
 * - a subscriber starting after seq N is registered first, then reads the
 *   stored history after N page by page, then continues with live events;
 * - a live event whose seq is not the next one expected (appends that
 *   committed out of order, or a page still in flight) is preceded by the
 *   missing events read from the store; events already delivered are
 *   skipped. So a subscriber sees seq N+1, N+2, … with no gap and no
 *   duplicate, whatever the interleaving.
 * - once a second one query reads the newest seq of every session with
 *   subscribers; where another server instance stored events (several
 *   instances behind one URL share Postgres), those are read and published;
 *   subscribers drop what they have. An idle server with many watched
 *   sessions costs one query a second, not one per session.
 * - each subscriber has a bounded queue; one that falls behind by more than
 *   that is cut off with `SlowSubscriber` (it reconnects and resumes from
 *   its last seq). Publishers never wait and memory never grows unbounded.
 */
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { SessionEventRecord } from "../../domain/session-event.js"
import { EventStore } from "./EventStore.js"

export class SlowSubscriber extends Data.TaggedError("SlowSubscriber")<{ readonly sessionId: string }> {
  override get message() {
    return `subscriber of session ${this.sessionId} fell too far behind; resume from the last event id`
  }
}

/** Live events a subscriber may have waiting before it is cut off. */
export const SUBSCRIBER_QUEUE_CAPACITY = 1024
const HISTORY_PAGE = 500

type Signal = { readonly _tag: "Event"; readonly record: SessionEventRecord } | { readonly _tag: "Overflow" }

/** How often a watched session is checked for events written by another server instance. */
export const POLL_INTERVAL = Duration.seconds(1)

export class SessionHub extends Effect.Service<SessionHub>()("tether/SessionHub", {
  scoped: Effect.gen(function*() {
    const store = yield* EventStore
    const subscribers = new Map<string, Set<Queue.Queue<Signal>>>()
    /** Highest seq published per watched session. */
    const published = new Map<string, number>()

    /** Hands freshly persisted events to every live subscriber of their session. Never waits. */
    const publish = (records: ReadonlyArray<SessionEventRecord>): Effect.Effect<void> =>
      Effect.sync(() => {
        const first = records[0]
        if (first === undefined) return
        const highest = records.reduce((max, r) => Math.max(max, r.seq), published.get(first.sessionId) ?? 0)
        if (published.has(first.sessionId)) published.set(first.sessionId, highest)
        const queues = subscribers.get(first.sessionId)
        if (queues === undefined) return
        for (const queue of queues) {
          for (const record of records) {
            if (!Queue.unsafeOffer(queue, { _tag: "Event", record })) {
              // Full: drop everything queued for it and leave one overflow signal.
              queues.delete(queue)
              Effect.runSync(Queue.takeAll(queue))
              Queue.unsafeOffer(queue, { _tag: "Overflow" })
              break
            }
          }
        }
      })

    /** Publishes what other instances stored since the last publish, for every watched session. */
    const poll = Effect.gen(function*() {
      if (published.size === 0) return
      const newest = yield* store.lastSeqs([...published.keys()])
      for (const [sessionId, seq] of newest) {
        const after = published.get(sessionId)
        if (after === undefined || seq <= after) continue
        const records = yield* store.readAfter(sessionId, after, HISTORY_PAGE)
        if (records.length > 0) yield* publish(records)
      }
    })
    yield* Effect.forkScoped(Effect.repeat(poll, Schedule.spaced(POLL_INTERVAL)))

    const register = (sessionId: string) =>
      Effect.acquireRelease(
        // One slot more than the capacity so an overflow signal always fits.
        Effect.tap(Queue.bounded<Signal>(SUBSCRIBER_QUEUE_CAPACITY + 1), (queue) =>
          Effect.gen(function*() {
            let set = subscribers.get(sessionId)
            if (set === undefined) {
              set = new Set()
              subscribers.set(sessionId, set)
              published.set(sessionId, Option.getOrElse(yield* store.lastSeq(sessionId), () => 0))
            }
            set.add(queue)
          })),
        (queue) =>
          Effect.sync(() => {
            const set = subscribers.get(sessionId)
            set?.delete(queue)
            if (set !== undefined && set.size === 0) {
              subscribers.delete(sessionId)
              published.delete(sessionId)
            }
          }).pipe(Effect.zipRight(Queue.shutdown(queue)))
      )

    /** Stored events after `after`, up to and including `upTo` (or all), in pages. */
    const history = (sessionId: string, after: number, upTo: number | undefined) =>
      Stream.paginateChunkEffect(after, (cursor) =>
        Effect.map(store.readAfter(sessionId, cursor, HISTORY_PAGE), (page) => {
          const wanted = upTo === undefined ? page : page.filter((r) => r.seq <= upTo)
          const last = wanted[wanted.length - 1]
          const more = page.length === HISTORY_PAGE && last !== undefined && (upTo === undefined || last.seq < upTo)
          return [Chunk.unsafeFromArray(Array.from(wanted)), more ? Option.some(last.seq) : Option.none<number>()] as const
        }))

    /**
     * Every event of the session after seq `after`, then live ones, forever
     * (until the consumer stops or is cut off for falling behind).
     */
    const subscribe = (sessionId: string, after: number): Stream.Stream<SessionEventRecord, SlowSubscriber> =>
      Stream.unwrapScoped(
        Effect.gen(function*() {
          const queue = yield* register(sessionId)
          let last = after
          const backlog = history(sessionId, after, undefined).pipe(
            Stream.mapChunks((chunk) => {
              const newest = Chunk.last(chunk)
              if (newest._tag === "Some" && newest.value.seq > last) last = newest.value.seq
              return chunk
            })
          )
          // Whole chunks at a time: everything a publish delivered passes downstream together.
          const live = Stream.fromQueue(queue).pipe(
            Stream.mapChunksEffect((signals) =>
              Effect.gen(function*() {
                const out: Array<SessionEventRecord> = []
                for (const signal of signals) {
                  if (signal._tag === "Overflow") return yield* new SlowSubscriber({ sessionId })
                  const record = signal.record
                  if (record.seq <= last) continue
                  if (record.seq > last + 1) {
                    // Something committed but not yet seen here: fill the gap from the store.
                    for (const missing of yield* Stream.runCollect(history(sessionId, last, record.seq))) {
                      if (missing.seq > last) {
                        out.push(missing)
                        last = missing.seq
                      }
                    }
                    continue
                  }
                  out.push(record)
                  last = record.seq
                }
                return Chunk.unsafeFromArray(out)
              })
            )
          )
          return Stream.concat(backlog, live)
        })
      )

    return {
      publish,
      subscribe,
      subscriberCount: (sessionId: string): number => subscribers.get(sessionId)?.size ?? 0
    } as const
  })
}) {}
