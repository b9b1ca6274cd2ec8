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
 * Durability (with `directory`, as `tether host` runs it): every event is
 * also appended to the session's journal (`<directory>/<sessionId>/
 * outbox.journal`, see `durable/journal-format.ts`) together with the
 * harness's checkpoint, and fsynced before `emit` returns (one fsync per
 * `emitAll` batch). Acknowledgements are journaled too and the journal is
 * compacted (atomically) once acknowledged records outnumber the rest, so it
 * holds at most about `capacityPerSession` events. At startup every journal is
 * replayed (a torn tail dropped): the restored sessions resend exactly what
 * the server has not acknowledged, and `claimRecovered` hands the last
 * checkpoint to the harness that re-attaches. A journal whose finishing
 * status was acknowledged is deleted with its session directory. Disk
 * errors are logged and the session carries on in memory.
 *
 * `SessionLog` is the pure core (no effects; property-tested); `EventOutbox`
 * wraps one log per session with waiting and wake-ups for the tunnel's pusher.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import { isFinished, type SessionEvent } from "../domain/session-event.js"
import { type JournalError, type JournalFile, openJournal } from "./durable/JournalFile.js"
import { encodeRecord, type JournalRecord } from "./durable/journal-format.js"

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

  /** Puts back events replayed from a journal (contiguous after `lastRseq`), ignoring the capacity. */
  restore(entries: ReadonlyArray<OutboxEntry<A>>): void {
    for (const entry of entries) {
      if (entry.rseq !== this.last + 1) throw new RangeError(`restored rseq ${entry.rseq} does not follow ${this.last}`)
      this.last = entry.rseq
      this.entries.push(entry)
    }
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
  /** Where the session journals live (one directory per session); without it the outbox is memory-only. */
  readonly directory?: string
  /** Compact a journal once it holds this many dead records (and more dead than live ones). Default 256. */
  readonly compactAfter?: number
}

/** One event to record, with the harness's position after it (stored in the same journal record). */
export interface EmitItem {
  readonly event: SessionEvent
  readonly checkpoint?: unknown
}

/** What a previous runner process left of a session (from its journal). */
export interface RecoveredSession {
  /** The last checkpoint recorded with an event, or null. */
  readonly checkpoint: unknown
  /** The highest rseq assigned. */
  readonly lastRseq: number
  /** Whether the session's finishing status was already recorded. */
  readonly finished: boolean
  /** The session's directory (journal and harness files). */
  readonly dir: string
}

interface Slot {
  readonly log: SessionLog
  readonly room: Effect.Semaphore
  /** Serialises journal writes so records land in rseq order. */
  readonly lock: Effect.Semaphore
  journal: JournalFile | null
  checkpoint: unknown
  /** Loaded from disk at startup and not yet claimed by a session. */
  recovered: boolean
  /** A finishing status was recorded. */
  finished: boolean
  /** Records in the journal that compaction would drop (acknowledged events, acks). */
  dead: number
  /** Restored with nothing to resend: ask the server once (an empty batch) whether it still wants the session. */
  probe: boolean
}

/** Session ids become directory names: only plain ones are journaled. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/

const isFinishing = (event: SessionEvent): boolean => event.type === "status" && isFinished(event.status)

const make = (options: EventOutboxOptions = {}) =>
  Effect.gen(function*() {
    const capacity = options.capacityPerSession ?? 10_000
    const directory = options.directory
    const compactAfter = options.compactAfter ?? 256
    const slots = new Map<string, Slot>()
    /** Open while some session may have unacknowledged events. */
    const dirty = yield* Effect.makeLatch(false)

    const journalFailed = (slot: Slot, sessionId: string) => (error: JournalError) =>
      Effect.suspend(() => {
        slot.journal = null
        return Effect.logError(`outbox: session ${sessionId} is no longer journaled (it continues in memory): ${error.message}`)
      })

    const newSlot = (log: SessionLog, journal: JournalFile | null) =>
      Effect.gen(function*() {
        const room = yield* Effect.makeSemaphore(capacity)
        const lock = yield* Effect.makeSemaphore(1)
        const slot: Slot = { log, room, lock, journal, checkpoint: null, recovered: false, finished: false, dead: 0, probe: false }
        return slot
      })

    /** Replays the journals a previous runner process left behind. */
    const restoreAll = Effect.gen(function*() {
      if (directory === undefined) return
      yield* Effect.promise(() => NodeFs.mkdir(directory, { recursive: true, mode: 0o700 }).catch(() => undefined))
      const names = yield* Effect.promise(() => NodeFs.readdir(directory).catch((): Array<string> => []))
      for (const sessionId of names) {
        if (!SAFE_ID.test(sessionId)) continue
        const opened = yield* Effect.either(openJournal(NodePath.join(directory, sessionId)))
        if (opened._tag === "Left") {
          yield* Effect.logError(`outbox: cannot restore session ${sessionId}: ${opened.left.message}`)
          continue
        }
        const { file, state } = opened.right
        const log = new SessionLog(capacity, state.acked)
        log.restore(state.entries.map((entry) => ({ rseq: entry.rseq, event: entry.event as SessionEvent })))
        const slot = yield* newSlot(log, file)
        slot.checkpoint = state.checkpoint
        slot.recovered = true
        slot.finished = log.unacked(log.size).some((entry) => isFinishing(entry.event))
        slot.dead = state.records
        slot.probe = log.size === 0
        if (log.size > 0) yield* slot.room.take(Math.min(log.size, capacity))
        slots.set(sessionId, slot)
        dirty.unsafeOpen()
        yield* Effect.logInfo(`outbox: restored session ${sessionId} (acknowledged through ${state.acked}, ${log.size} to resend)`)
      }
    })
    yield* restoreAll

    /**
     * Makes sure the session has a log. A new one continues after `lastRseq`
     * (the server's view); an existing one treats it as an acknowledgement.
     */
    const open = (sessionId: string, lastRseq: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (slots.has(sessionId)) return acknowledge(sessionId, lastRseq)
        return Effect.gen(function*() {
          let journal: JournalFile | null = null
          if (directory !== undefined && SAFE_ID.test(sessionId)) {
            const opened = yield* openJournal(NodePath.join(directory, sessionId)).pipe(
              Effect.tap(({ file }) => file.compact({ acked: lastRseq, checkpoint: null, entries: [] })),
              Effect.either
            )
            if (opened._tag === "Right") journal = opened.right.file
            else yield* Effect.logError(`outbox: session ${sessionId} is not journaled: ${opened.left.message}`)
          }
          if (slots.has(sessionId)) return // opened concurrently
          slots.set(sessionId, yield* newSlot(new SessionLog(capacity, lastRseq), journal))
        })
      })

    /** Records a batch (at most `capacity` items) once there is room, journaled before it becomes visible. */
    const record = (sessionId: string, slot: Slot, items: ReadonlyArray<EmitItem>): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (slots.get(sessionId) !== slot) return // discarded while waiting
        if (slot.journal !== null) {
          let lines = ""
          items.forEach((item, i) => {
            const entry: JournalRecord = item.checkpoint === undefined
              ? { k: "e", r: slot.log.lastRseq + 1 + i, ev: item.event }
              : { k: "e", r: slot.log.lastRseq + 1 + i, ev: item.event, cp: item.checkpoint }
            lines += encodeRecord(entry)
          })
          yield* slot.journal.append(lines).pipe(Effect.catchTag("JournalError", journalFailed(slot, sessionId)))
        }
        for (const item of items) {
          slot.log.append(item.event)
          if (item.checkpoint !== undefined) slot.checkpoint = item.checkpoint
          if (isFinishing(item.event)) slot.finished = true
        }
        dirty.unsafeOpen()
      }).pipe(slot.lock.withPermits(1))

    /**
     * Records events in order (one journal write and fsync per chunk of at
     * most `capacity`); waits while the session's log is full. Events of
     * unknown sessions are dropped.
     */
    const emitAll = (sessionId: string, items: ReadonlyArray<EmitItem>): Effect.Effect<void> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          const slot = slots.get(sessionId)
          if (slot === undefined) return Effect.logDebug(`outbox: dropped ${items.length} event(s) of unknown session ${sessionId}`)
          const chunks: Array<ReadonlyArray<EmitItem>> = []
          for (let i = 0; i < items.length; i += capacity) chunks.push(items.slice(i, i + capacity))
          return Effect.forEach(chunks, (chunk) =>
            restore(slot.room.take(chunk.length)).pipe(Effect.zipRight(record(sessionId, slot, chunk))), { discard: true })
        })
      )

    /** Records one event (with the harness's checkpoint after it, if any); waits while the session's log is full. */
    const emit = (sessionId: string, event: SessionEvent, checkpoint?: unknown): Effect.Effect<void> =>
      emitAll(sessionId, [checkpoint === undefined ? { event } : { event, checkpoint }])

    /** Journals an acknowledgement; compacts or deletes the journal when worthwhile. */
    const persistAck = (sessionId: string, slot: Slot): Effect.Effect<void> =>
      Effect.gen(function*() {
        const journal = slot.journal
        if (journal === null) return
        const log = slot.log
        if (slot.finished && log.size === 0) {
          // The server stored the finishing status: nothing of the session is needed any more.
          slot.journal = null
          return yield* journal.remove
        }
        slot.dead++
        if (slot.dead >= compactAfter && slot.dead >= log.size) {
          slot.dead = 0
          return yield* journal.compact({
            acked: log.ackedThrough,
            checkpoint: slot.checkpoint,
            entries: log.unacked(log.size)
          }).pipe(Effect.catchTag("JournalError", journalFailed(slot, sessionId)))
        }
        yield* journal.append(encodeRecord({ k: "a", t: log.ackedThrough })).pipe(
          Effect.catchTag("JournalError", journalFailed(slot, sessionId))
        )
      }).pipe(slot.lock.withPermits(1))

    const acknowledge = (sessionId: string, ackedThrough: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        const slot = slots.get(sessionId)
        if (slot === undefined) return Effect.void
        const released = slot.log.acknowledge(ackedThrough)
        if (released === 0) return Effect.void
        slot.dead += released
        return Effect.zipRight(persistAck(sessionId, slot), slot.room.release(released))
      })

    /**
     * The next batch of every session with unacknowledged events (oldest
     * first, at most `maxPerBatch` each). Empty when there is nothing to send.
     * A session restored from disk with nothing to resend and not (yet)
     * claimed by a session gets one empty batch: the server's answer (an
     * acknowledgement, or `UnknownSession` for a session it finished while
     * this host was down) tells the runner whether to keep it.
     */
    const batches = (maxPerBatch: number): Effect.Effect<ReadonlyArray<OutboxBatch>> =>
      Effect.sync(() => {
        dirty.unsafeClose()
        const out: Array<OutboxBatch> = []
        for (const [sessionId, slot] of slots) {
          if (slot.log.size > 0) out.push({ sessionId, events: slot.log.unacked(maxPerBatch) })
          else if (slot.probe && slot.recovered) out.push({ sessionId, events: [] })
          slot.probe = false
        }
        return out
      })

    /** Waits until some session may have something to send. */
    const awaitPending: Effect.Effect<void> = dirty.await

    /** Forgets a session (the server does not know it): its events and journal are dropped and waiting emits released. */
    const discard = (sessionId: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const slot = slots.get(sessionId)
        if (slot === undefined) return Effect.void
        slots.delete(sessionId)
        const journal = slot.journal
        slot.journal = null
        return Effect.zipRight(slot.room.release(capacity), journal === null ? Effect.void : journal.remove)
      })

    /**
     * What a previous runner process left of the session, once: the first
     * call after startup returns it, later ones (and sessions this process
     * started) return null.
     */
    const claimRecovered = (sessionId: string): Effect.Effect<RecoveredSession | null> =>
      Effect.sync(() => {
        const slot = slots.get(sessionId)
        if (slot === undefined || !slot.recovered || slot.journal === null) return null
        slot.recovered = false
        return { checkpoint: slot.checkpoint, lastRseq: slot.log.lastRseq, finished: slot.finished, dir: slot.journal.dir }
      })

    /** The session's durable directory (for harness files that must survive the runner), or null when memory-only. */
    const sessionDir = (sessionId: string): Effect.Effect<string | null> =>
      Effect.sync(() => slots.get(sessionId)?.journal?.dir ?? null)

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

    /** Closes the journal files (they stay on disk for the next runner). */
    yield* Effect.addFinalizer(() =>
      Effect.forEach([...slots.values()], (slot) => slot.journal === null ? Effect.void : slot.journal.close, { discard: true })
    )

    return {
      capacity,
      open,
      emit,
      emitAll,
      acknowledge,
      batches,
      awaitPending,
      discard,
      claimRecovered,
      sessionDir,
      unackedCount,
      position,
      drained
    } as const
  })

export class EventOutbox extends Effect.Service<EventOutbox>()("tether/runner/EventOutbox", {
  scoped: make()
}) {
  static readonly layer = (options: EventOutboxOptions): Layer.Layer<EventOutbox> =>
    Layer.scoped(EventOutbox, Effect.map(make(options), (outbox) => EventOutbox.make(outbox)))
}
