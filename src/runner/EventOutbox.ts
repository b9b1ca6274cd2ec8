/**
 * The runner's outbox: every event a session emits gets the session's next
 * runner sequence number (`rseq` 1, 2, 3 …, or continuing after the
 * `lastRseq` the server gave in `start_session`) and stays here until the
 * server acknowledges it (`PushEvents` answers `ackedThrough`). After a
 * reconnect everything above the last acknowledgement is sent again; the
 * server ignores rseqs it already stored, so nothing is lost or duplicated.
 *
 * Each session holds at most `capacityPerSession` unacknowledged events. When
 * full, `emit` waits for an acknowledgement instead of dropping anything: the
 * harness (and through it the agent or process) is paused until the server
 * catches up or the tunnel comes back.
 *
 * `SessionLog` is the pure core (no effects; property-tested); `EventOutbox`
 * wraps one log per session with waiting and wake-ups for the tunnel's pusher.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { SessionEvent } from "../domain/session-event.js"

export interface OutboxEntry<A = SessionEvent> {
  readonly rseq: number
  readonly event: A
}

/** The unacknowledged events of one session, in rseq order. */
export class SessionLog<A = SessionEvent> {
  private entries: Array<OutboxEntry<A>> = []
  private head = 0
  private acked: number
  private last: number

  /** `startAfter`: the rseq the server already has (new events get `startAfter + 1` …). */
  constructor(readonly capacity: number, startAfter = 0) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`)
    this.acked = startAfter
    this.last = startAfter
  }

  /** The highest rseq the server acknowledged. */
  get ackedThrough(): number {
    return this.acked
  }

  /** The highest rseq assigned so far. */
  get lastRseq(): number {
    return this.last
  }

  /** How many events wait for an acknowledgement. */
  get size(): number {
    return this.entries.length - this.head
  }

  get isFull(): boolean {
    return this.size >= this.capacity
  }

  /** Assigns the next rseq. Throws when full: callers wait for room first. */
  append(event: A): number {
    if (this.isFull) throw new RangeError("SessionLog is full")
    const rseq = ++this.last
    this.entries.push({ rseq, event })
    return rseq
  }

  /**
   * Records that the server stored everything through `through`. Stale or
   * repeated acknowledgements change nothing; one beyond the last assigned
   * rseq counts as everything. Returns how many events were released.
   */
  acknowledge(through: number): number {
    const target = Math.min(through, this.last)
    if (!(target > this.acked)) return 0
    const before = this.size
    this.acked = target
    while (this.head < this.entries.length && this.entries[this.head]!.rseq <= target) this.head++
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
    return before - this.size
  }

  /** The oldest unacknowledged events, at most `max` (what to send next). */
  unacked(max: number): ReadonlyArray<OutboxEntry<A>> {
    return this.entries.slice(this.head, this.head + Math.max(0, max))
  }
}

export interface OutboxBatch {
  readonly sessionId: string
  readonly events: ReadonlyArray<OutboxEntry>
}

export interface EventOutboxOptions {
  /** Unacknowledged events kept per session before `emit` waits. Default 10 000. */
  readonly capacityPerSession?: number
}

interface Slot {
  readonly log: SessionLog
  readonly room: Effect.Semaphore
}

const make = (options: EventOutboxOptions = {}) =>
  Effect.gen(function*() {
    const capacity = options.capacityPerSession ?? 10_000
    const slots = new Map<string, Slot>()
    /** Open while some session may have unacknowledged events. */
    const dirty = yield* Effect.makeLatch(false)

    /**
     * Makes sure the session has a log. A new one continues after `lastRseq`
     * (the server's view); an existing one treats it as an acknowledgement.
     */
    const open = (sessionId: string, lastRseq: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        const slot = slots.get(sessionId)
        if (slot === undefined) {
          return Effect.map(Effect.makeSemaphore(capacity), (room) => {
            slots.set(sessionId, { log: new SessionLog(capacity, lastRseq), room })
          })
        }
        return acknowledge(sessionId, lastRseq)
      })

    /** Records an event; waits while the session's log is full. Events of unknown sessions are dropped. */
    const emit = (sessionId: string, event: SessionEvent): Effect.Effect<void> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          const slot = slots.get(sessionId)
          if (slot === undefined) return Effect.logDebug(`outbox: dropped an event of unknown session ${sessionId}`)
          return restore(slot.room.take(1)).pipe(
            Effect.zipRight(Effect.sync(() => {
              if (slots.get(sessionId) !== slot) return // discarded while waiting
              slot.log.append(event)
              dirty.unsafeOpen()
            }))
          )
        })
      )

    const acknowledge = (sessionId: string, ackedThrough: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        const slot = slots.get(sessionId)
        if (slot === undefined) return Effect.void
        const released = slot.log.acknowledge(ackedThrough)
        return released > 0 ? slot.room.release(released) : Effect.void
      })

    /**
     * The next batch of every session with unacknowledged events (oldest
     * first, at most `maxPerBatch` each). Empty when there is nothing to send.
     */
    const batches = (maxPerBatch: number): Effect.Effect<ReadonlyArray<OutboxBatch>> =>
      Effect.sync(() => {
        dirty.unsafeClose()
        const out: Array<OutboxBatch> = []
        for (const [sessionId, slot] of slots) {
          if (slot.log.size > 0) out.push({ sessionId, events: slot.log.unacked(maxPerBatch) })
        }
        return out
      })

    /** Waits until some session may have something to send. */
    const awaitPending: Effect.Effect<void> = dirty.await

    /** Forgets a session (the server does not know it): its events are dropped and waiting emits released. */
    const discard = (sessionId: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const slot = slots.get(sessionId)
        if (slot === undefined) return Effect.void
        slots.delete(sessionId)
        return slot.room.release(capacity)
      })

    /** How many events wait for an acknowledgement, over all sessions. */
    const unackedCount: Effect.Effect<number> = Effect.sync(() => {
      let total = 0
      for (const slot of slots.values()) total += slot.log.size
      return total
    })

    /** The session's log state: what the server has and what was assigned. */
    const position = (sessionId: string): Effect.Effect<{ readonly ackedThrough: number; readonly lastRseq: number } | null> =>
      Effect.sync(() => {
        const slot = slots.get(sessionId)
        return slot === undefined ? null : { ackedThrough: slot.log.ackedThrough, lastRseq: slot.log.lastRseq }
      })

    /** Completes once every event was acknowledged (polled; for graceful shutdown). */
    const drained: Effect.Effect<void> = Effect.gen(function*() {
      while ((yield* unackedCount) > 0) yield* Effect.sleep("50 millis")
    })

    return { capacity, open, emit, acknowledge, batches, awaitPending, discard, unackedCount, position, drained } as const
  })

export class EventOutbox extends Effect.Service<EventOutbox>()("tether/runner/EventOutbox", {
  effect: make()
}) {
  static readonly layer = (options: EventOutboxOptions): Layer.Layer<EventOutbox> =>
    Layer.effect(EventOutbox, Effect.map(make(options), (outbox) => EventOutbox.make(outbox)))
}
