/**
 * SessionHub over a real SQLite EventStore: subscribers see every event
 * after their resume point exactly once, in order, whatever order publishes
 * arrive in; slow subscribers are cut off instead of buffered.
 */
import { assert, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import fc from "fast-check"
import type { SessionEvent, SessionEventRecord } from "../../src/domain/session-event.js"
import { HostRepo } from "../../src/services/hosts/HostRepo.js"
import { EventStore } from "../../src/services/sessions/EventStore.js"
import { SessionHub, SUBSCRIBER_QUEUE_CAPACITY } from "../../src/services/sessions/SessionHub.js"
import { SessionRepo } from "../../src/services/sessions/SessionRepo.js"
import { sqliteTestLayer } from "../support/databases.js"
import { seedSession } from "../support/sessions.js"

const Services = SessionHub.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(EventStore.Default, SessionRepo.Default, HostRepo.Default)),
  Layer.provideMerge(sqliteTestLayer())
)

const newSession = seedSession()

const message = (i: number): SessionEvent => ({ type: "message", messageId: `m${i}`, role: "assistant", text: `line ${i}` })

const seqs = (records: Chunk.Chunk<SessionEventRecord>) => Chunk.toReadonlyArray(records).map((r) => r.seq)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

layer(Services, { excludeTestServices: true })("SessionHub", (it) => {
  it.effect("history then live, exactly once, from any resume point", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const hub = yield* SessionHub
      const id = yield* newSession
      yield* store.append(id, range(1, 5).map(message), 2)
      const fromThree = yield* hub.subscribe(id, 3).pipe(Stream.take(5), Stream.runCollect, Effect.fork)
      yield* Effect.sleep("20 millis")
      const more = yield* store.append(id, range(6, 8).map(message), 3)
      yield* hub.publish(more)
      assert.deepStrictEqual(seqs(yield* Fiber.join(fromThree)), [4, 5, 6, 7, 8])
    }))

  it.effect("events published out of order, or never published here, arrive in order with no gap", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const hub = yield* SessionHub
      const id = yield* newSession
      const consumer = yield* hub.subscribe(id, 0).pipe(Stream.take(9), Stream.runCollect, Effect.fork)
      yield* Effect.sleep("20 millis")
      const a = yield* store.append(id, range(1, 3).map(message), 2)
      const b = yield* store.append(id, range(4, 6).map(message), 2)
      const c = yield* store.append(id, range(7, 9).map(message), 2)
      // c first, a twice, b never (as if another server instance wrote it).
      yield* hub.publish(c)
      yield* hub.publish(a)
      yield* hub.publish(a)
      assert.deepStrictEqual(seqs(yield* Fiber.join(consumer)), range(1, 9))
      void b
    }))

  it.effect.prop(
    "any publish order of any batching delivers 1..n exactly once",
    [fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 8 }), fc.infiniteStream(fc.nat())],
    ([sizes, shuffle]) =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const hub = yield* SessionHub
        const id = yield* newSession
        const total = sizes.reduce((a, b) => a + b, 0)
        const consumer = yield* hub.subscribe(id, 0).pipe(Stream.take(total), Stream.runCollect, Effect.fork)
        yield* Effect.sleep("5 millis")
        const batches: Array<ReadonlyArray<SessionEventRecord>> = []
        let next = 1
        for (const size of sizes) {
          batches.push(yield* store.append(id, range(next, next + size - 1).map(message), 2))
          next += size
        }
        const order = batches.map((batch, i) => ({ batch, key: shuffle.next().value ?? i })).sort((x, y) => x.key - y.key)
        for (const { batch } of order) yield* hub.publish(batch)
        assert.deepStrictEqual(seqs(yield* Fiber.join(consumer)), range(1, total))
      }),
    { fastCheck: { numRuns: 25 } }
  )

  it.effect("a subscriber that falls behind is cut off with SlowSubscriber; a reader that keeps up is unaffected", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const hub = yield* SessionHub
      const id = yield* newSession
      yield* hub.publish(yield* store.append(id, [message(0)], 2))
      const total = 1 + SUBSCRIBER_QUEUE_CAPACITY * 2
      const keepsUp = yield* hub.subscribe(id, 0).pipe(Stream.take(total), Stream.runCollect, Effect.fork)
      while (hub.subscriberCount(id) < 1) yield* Effect.sleep("1 millis")
      const outcome = yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* Stream.toPull(hub.subscribe(id, 0))
        assert.deepStrictEqual(seqs(yield* pull), [1]) // registered, then stops reading
        assert.strictEqual(hub.subscriberCount(id), 2)
        // The publisher never waits: batches of 100 keep coming while one reader stalls.
        const counts: Array<number> = []
        for (let next = 2; next <= total; next += 100) {
          const upTo = Math.min(total, next + 99)
          yield* hub.publish(yield* store.append(id, range(next, upTo).map(message), 2))
          yield* Effect.sleep("2 millis") // let the reader that keeps up read
          if (upTo < total) counts.push(hub.subscriberCount(id))
        }
        // Both while the stalled one's backlog fits; then only the reader that keeps up.
        assert.strictEqual(counts[0], 2)
        assert.strictEqual(counts[counts.length - 1], 1, "the stalled subscriber was dropped")
        return yield* Effect.exit(Effect.forever(pull))
      }))
      assert.isTrue(Exit.isFailure(outcome))
      if (Exit.isFailure(outcome)) assert.include(JSON.stringify(outcome.cause), "SlowSubscriber")
      assert.deepStrictEqual(seqs(yield* Fiber.join(keepsUp)), range(1, total))
    }))

  it.effect("events stored by another server instance (never published here) reach subscribers by polling", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const hub = yield* SessionHub
      const id = yield* newSession
      const consumer = yield* hub.subscribe(id, 0).pipe(Stream.take(6), Stream.runCollect, Effect.fork)
      while (hub.subscriberCount(id) < 1) yield* Effect.sleep("1 millis")
      yield* store.append(id, range(1, 3).map(message), 2)
      yield* Effect.sleep("50 millis")
      yield* store.append(id, range(4, 6).map(message), 2)
      const received = yield* Fiber.join(consumer).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(seqs(received), range(1, 6))
    }))

  it.effect("unsubscribing releases the subscriber", () =>
    Effect.gen(function*() {
      const hub = yield* SessionHub
      const store = yield* EventStore
      const id = yield* newSession
      yield* store.append(id, [message(1)], 2)
      yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* Stream.toPull(hub.subscribe(id, 0))
        yield* pull
        assert.strictEqual(hub.subscriberCount(id), 1)
      }))
      assert.strictEqual(hub.subscriberCount(id), 0)
    }))
})

