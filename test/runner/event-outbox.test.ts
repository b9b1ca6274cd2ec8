import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import fc from "fast-check"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { EventOutbox, type OutboxEntry, SessionLog } from "../../src/runner/EventOutbox.js"

/**
 * A server as the contract describes it: it stores a batch's events whose
 * rseq continues its sequence, ignores those it already has, refuses a batch
 * that would leave a gap, and always answers with the highest rseq stored.
 */
class ModelServer<A> {
  readonly stored: Array<A> = []
  readonly acks: Array<number> = []
  receive(batch: ReadonlyArray<OutboxEntry<A>>): number {
    for (const { event, rseq } of batch) {
      if (rseq <= this.stored.length) continue // duplicate: already stored
      if (rseq !== this.stored.length + 1) break // gap: the runner resends from the ack
      this.stored.push(event)
    }
    this.acks.push(this.stored.length)
    return this.stored.length
  }
}

type Op =
  | { readonly _tag: "emit"; readonly count: number }
  | { readonly _tag: "send"; readonly max: number }
  | { readonly _tag: "deliver"; readonly index: number; readonly loseAnswer: boolean }
  | { readonly _tag: "answer"; readonly index: number }
  | { readonly _tag: "staleAck"; readonly back: number }
  | { readonly _tag: "disconnect" }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ _tag: fc.constant("emit" as const), count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ _tag: fc.constant("send" as const), max: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ _tag: fc.constant("deliver" as const), index: fc.nat(), loseAnswer: fc.boolean() }),
  fc.record({ _tag: fc.constant("answer" as const), index: fc.nat() }),
  fc.record({ _tag: fc.constant("staleAck" as const), back: fc.nat({ max: 20 }) }),
  fc.constant({ _tag: "disconnect" as const })
)

/**
 * Runs one interleaving against a SessionLog. Emits that find the log full
 * wait (in order) until an acknowledgement makes room, as `emit` does.
 * Requests and answers in flight may be delivered in any order, answers may
 * be lost, stale acknowledgements replayed, and a disconnect drops
 * everything in flight. At the end the connection is healed and flushed.
 */
const simulate = (capacity: number, startAfter: number, ops: ReadonlyArray<Op>) => {
  const log = new SessionLog<number>(capacity, startAfter)
  const server = new ModelServer<number>()
  // The server already has `startAfter` events from before (e.g. a previous runner process).
  for (let i = 1; i <= startAfter; i++) server.stored.push(-i)
  const emitted: Array<number> = []
  let nextEvent = 0
  let waiting = 0
  let requests: Array<ReadonlyArray<OutboxEntry<number>>> = []
  let answers: Array<number> = []
  let maxSize = 0

  const admitWaiting = () => {
    while (waiting > 0 && !log.isFull) {
      const event = nextEvent++
      const rseq = log.append(event)
      assert.strictEqual(rseq, startAfter + emitted.length + 1)
      emitted.push(event)
      waiting--
    }
  }
  const check = () => {
    maxSize = Math.max(maxSize, log.size)
    assert.isAtMost(log.size, capacity)
    // The server's view is always a gap-free prefix of what was emitted.
    assert.deepStrictEqual(server.stored.slice(startAfter), emitted.slice(0, server.stored.length - startAfter))
    // The runner never drops what the server has not stored.
    assert.isAtMost(log.ackedThrough, server.stored.length)
    assert.deepStrictEqual(
      log.unacked(Infinity).map((e) => e.event),
      emitted.slice(log.ackedThrough - startAfter)
    )
  }

  for (const o of ops) {
    switch (o._tag) {
      case "emit":
        waiting += o.count
        admitWaiting()
        break
      case "send": {
        const batch = log.unacked(o.max)
        if (batch.length > 0) requests.push(batch)
        break
      }
      case "deliver": {
        if (requests.length === 0) break
        const [request] = requests.splice(o.index % requests.length, 1)
        const ack = server.receive(request!)
        if (!o.loseAnswer) answers.push(ack)
        break
      }
      case "answer": {
        if (answers.length === 0) break
        const [ack] = answers.splice(o.index % answers.length, 1)
        log.acknowledge(ack!)
        admitWaiting()
        break
      }
      case "staleAck": {
        const acks = server.acks
        if (acks.length > 0) log.acknowledge(acks[Math.max(0, acks.length - 1 - o.back)]!)
        admitWaiting()
        break
      }
      case "disconnect":
        requests = []
        answers = []
        break
    }
    check()
  }

  // Healed: push until everything (including emits still waiting) is stored.
  for (let round = 0; log.size > 0 || waiting > 0; round++) {
    assert.isBelow(round, 10_000, "flush did not converge")
    log.acknowledge(server.receive(log.unacked(3)))
    admitWaiting()
    check()
  }
  assert.deepStrictEqual(server.stored.slice(startAfter), emitted)
  assert.strictEqual(log.ackedThrough, startAfter + emitted.length)
  return { maxSize }
}

describe("SessionLog", () => {
  it.prop(
    "any interleaving of emits, sends, lost batches or answers, stale acks and disconnects delivers exactly the emitted sequence",
    [fc.integer({ min: 1, max: 8 }), fc.nat({ max: 50 }), fc.array(op, { maxLength: 200 })],
    ([capacity, startAfter, ops]) => {
      const { maxSize } = simulate(capacity, startAfter, ops)
      assert.isAtMost(maxSize, capacity)
    },
    { fastCheck: { numRuns: 300 } }
  )

  it("assigns rseq after the server's last one and ignores stale, duplicate and excessive acks", () => {
    const log = new SessionLog<string>(10, 5)
    assert.strictEqual(log.append("a"), 6)
    assert.strictEqual(log.append("b"), 7)
    assert.strictEqual(log.append("c"), 8)
    assert.strictEqual(log.acknowledge(6), 1)
    assert.strictEqual(log.acknowledge(6), 0)
    assert.strictEqual(log.acknowledge(3), 0)
    assert.deepStrictEqual(log.unacked(10), [{ rseq: 7, event: "b" }, { rseq: 8, event: "c" }])
    assert.strictEqual(log.acknowledge(100), 2)
    assert.strictEqual(log.ackedThrough, 8)
    assert.strictEqual(log.append("d"), 9)
  })

  it("stays compact over many acknowledged events", () => {
    const log = new SessionLog<number>(10)
    for (let i = 0; i < 100_000; i++) {
      log.append(i)
      if (i % 7 === 0) log.acknowledge(log.lastRseq)
    }
    log.acknowledge(log.lastRseq)
    assert.strictEqual(log.size, 0)
    assert.throws(() => {
      for (let i = 0; i < 11; i++) log.append(i)
    }, RangeError)
  })
})

const status = (n: number): SessionEvent => ({ type: "status", status: "running", reason: `e${n}`, exitCode: null })
const reasonOf = (event: SessionEvent) => (event.type === "status" ? event.reason : null)

describe("EventOutbox", () => {
  it.effect("emit waits while the session is full and resumes when acknowledged", () =>
    Effect.gen(function*() {
      const outbox = yield* EventOutbox
      yield* outbox.open("s", 0)
      yield* outbox.emit("s", status(1))
      yield* outbox.emit("s", status(2))
      const third = yield* Effect.fork(outbox.emit("s", status(3)))
      yield* Effect.yieldNow()
      assert.isNull(third.unsafePoll(), "the third emit should wait")
      const [batch] = yield* outbox.batches(1000)
      assert.deepStrictEqual(batch?.events.map((e) => e.rseq), [1, 2])
      yield* outbox.acknowledge("s", 1)
      yield* Fiber.join(third)
      const [next] = yield* outbox.batches(1000)
      assert.deepStrictEqual(next?.events.map((e) => [e.rseq, reasonOf(e.event)]), [[2, "e2"], [3, "e3"]])
    }).pipe(Effect.provide(EventOutbox.layer({ capacityPerSession: 2 }))))

  it.effect("open continues after the server's lastRseq, or trims an existing session to it", () =>
    Effect.gen(function*() {
      const outbox = yield* EventOutbox
      yield* outbox.open("a", 41)
      yield* outbox.emit("a", status(1))
      assert.deepStrictEqual(yield* outbox.position("a"), { ackedThrough: 41, lastRseq: 42 })
      yield* outbox.emit("a", status(2))
      yield* outbox.open("a", 42)
      const batches = yield* outbox.batches(1000)
      assert.deepStrictEqual(batches.map((b) => [b.sessionId, b.events.map((e) => e.rseq)]), [["a", [43]]])
    }).pipe(Effect.provide(EventOutbox.Default)))

  it.effect("batches hold at most the limit; awaitPending wakes on the next emit; discard frees waiting emitters", () =>
    Effect.gen(function*() {
      const outbox = yield* EventOutbox
      yield* outbox.open("s", 0)
      for (let i = 1; i <= 5; i++) yield* outbox.emit("s", status(i))
      assert.deepStrictEqual((yield* outbox.batches(2)).map((b) => b.events.length), [2])
      yield* outbox.acknowledge("s", 5)
      assert.deepStrictEqual(yield* outbox.batches(2), [])
      const waiter = yield* Effect.fork(outbox.awaitPending)
      yield* Effect.yieldNow()
      assert.isNull(waiter.unsafePoll())
      yield* outbox.emit("s", status(6))
      yield* Fiber.join(waiter)

      for (let i = 7; i <= 10; i++) yield* outbox.emit("s", status(i))
      const blocked = yield* Effect.fork(outbox.emit("s", status(11)))
      yield* Effect.yieldNow()
      assert.isNull(blocked.unsafePoll())
      yield* outbox.discard("s")
      yield* Fiber.join(blocked)
      assert.strictEqual(yield* outbox.unackedCount, 0)
      yield* outbox.drained
    }).pipe(Effect.provide(EventOutbox.layer({ capacityPerSession: 5 }))))

  it.effect.prop(
    "a harness emitting in order through a lossy, reconnecting pusher: the server sees each event exactly once, in order",
    [
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 60 }),
      fc.array(fc.constantFrom("deliver", "loseBatch", "loseAnswer", "stale", "idle" as const), { minLength: 1, maxLength: 80 })
    ],
    ([capacity, total, behaviours]) =>
      Effect.gen(function*() {
        const outbox = yield* EventOutbox
        yield* outbox.open("s", 0)
        const server = new ModelServer<string | null>()
        const harness = yield* Effect.fork(Effect.forEach(Array.from({ length: total }, (_, i) => i + 1), (n) => outbox.emit("s", status(n)), { discard: true }))
        let step = 0
        while (server.stored.length < total) {
          assert.isBelow(step, 10_000)
          const behaviour = behaviours[step++ % behaviours.length]
          yield* Effect.yieldNow()
          const [batch] = yield* outbox.batches(1 + (step % 4))
          assert.isAtMost(yield* outbox.unackedCount, capacity)
          if (batch === undefined) continue
          const events = batch.events.map((e) => ({ rseq: e.rseq, event: reasonOf(e.event) }))
          switch (behaviour) {
            case "loseBatch":
            case "idle":
              break
            case "loseAnswer":
              server.receive(events)
              break
            case "stale":
              yield* outbox.acknowledge("s", server.acks[0] ?? 0)
              break
            default:
              yield* outbox.acknowledge("s", server.receive(events))
          }
          // Liveness: a healthy round now and then, as after a reconnect.
          if (step % 5 === 0) yield* outbox.acknowledge("s", server.receive(events))
        }
        yield* Fiber.join(harness)
        assert.deepStrictEqual(server.stored, Array.from({ length: total }, (_, i) => `e${i + 1}`))
      }).pipe(Effect.provide(EventOutbox.layer({ capacityPerSession: capacity }))),
    { fastCheck: { numRuns: 100 } }
  )
})
