/**
 * EventStore.appendFromRunner under arbitrary runner behaviour: batches that
 * are windows of one fixed event sequence, sent in any order, repeated,
 * overlapping, skipping ahead or with holes inside. Whatever arrives, the
 * log holds a prefix of the runner's sequence with seqs 1..n, and the
 * acknowledgement only grows and always equals what is stored.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import fc from "fast-check"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { HostRepo } from "../../src/services/hosts/HostRepo.js"
import { EventStore, type RunnerEntry } from "../../src/services/sessions/EventStore.js"
import { SessionRepo } from "../../src/services/sessions/SessionRepo.js"
import { seedSession } from "../support/sessions.js"
import { sqliteTestLayer } from "../support/databases.js"

/** How many events the runner has in all. */
const RUNNER_LENGTH = 16
const T0 = 1_700_000_000_000

const runnerEvent = (rseq: number): SessionEvent =>
  rseq % 5 === 0
    ? { type: "status", status: rseq % 10 === 0 ? "idle" : "running", reason: null, exitCode: null }
    : { type: "message_delta", messageId: `m${Math.ceil(rseq / 5)}`, text: `chunk ${rseq}` }

const RUNNER_EVENTS: ReadonlyArray<SessionEvent> = Array.from({ length: RUNNER_LENGTH }, (_, i) => runnerEvent(i + 1))

type Damage = Option.Option<{ readonly kind: "hole" | "repeat"; readonly at: number }>

/** Sometimes one entry of a batch is left out (a hole) or sent twice. */
const damageArbitrary: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(Option.none()) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constantFrom("hole" as const, "repeat" as const), at: fc.nat({ max: 5 }) }).map(
      Option.some
    )
  }
)

/**
 * One push of the runner: it resends from up to `back` entries before what
 * it sent so far, sometimes skips ahead (`skip`, a gap), and sends `length`
 * entries.
 */
const stepArbitrary = fc.record({
  back: fc.nat({ max: 4 }),
  skip: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
  length: fc.integer({ min: 0, max: 6 }),
  damage: damageArbitrary
})

const window = (from: number, to: number, damage: Damage): ReadonlyArray<RunnerEntry> => {
  const rseqs = Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)
  const damaged = Option.match(damage, {
    onNone: () => rseqs,
    onSome: ({ at, kind }) =>
      at >= rseqs.length
        ? rseqs
        : kind === "hole"
        ? rseqs.filter((_, i) => i !== at)
        : [...rseqs.slice(0, at + 1), ...rseqs.slice(at)]
  })
  return damaged.map((rseq) => ({ rseq, event: RUNNER_EVENTS[rseq - 1] as SessionEvent }))
}

/** The batches as the server receives them: the runner's pushes, a few of them swapped (reordered). */
const batchesArbitrary = (maxLength: number): fc.Arbitrary<ReadonlyArray<ReadonlyArray<RunnerEntry>>> =>
  fc.tuple(
    fc.array(stepArbitrary, { minLength: 1, maxLength }),
    fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 5 })
  ).map(([steps, swaps]) => {
    let sent = 0
    const batches = steps.map(({ back, damage, length, skip }) => {
      const from = Math.min(RUNNER_LENGTH, Math.max(1, sent + 1 - back + skip))
      const to = Math.min(RUNNER_LENGTH, from + length - 1)
      sent = Math.max(sent, to)
      return window(from, to, damage)
    })
    for (const [a, b] of swaps) {
      const i = a % batches.length
      const j = b % batches.length
      const moved = batches[i] as ReadonlyArray<RunnerEntry>
      batches[i] = batches[j] as ReadonlyArray<RunnerEntry>
      batches[j] = moved
    }
    return batches
  })

/**
 * The model: what the store acknowledges after a batch, given what it
 * acknowledged before, or the hole that makes it refuse the batch.
 */
const model = (
  acked: number,
  batch: ReadonlyArray<RunnerEntry>
): { readonly acked: number; readonly gap: Option.Option<{ readonly expected: number; readonly got: number }> } => {
  let next = acked + 1
  for (const { rseq } of batch) {
    if (rseq < next) continue
    if (rseq > next) return { acked, gap: Option.some({ expected: next, got: rseq }) }
    next += 1
  }
  return { acked: next - 1, gap: Option.none() }
}

/** A fresh session (on a fresh host) for one run of a property. */
const freshSession = seedSession({ status: "idle", now: T0 })

/** The log is exactly the first n runner events with seqs 1..n, and the session row agrees. */
const assertPrefix = (sessionId: string, n: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const stored = yield* store.readAfter(sessionId, 0, 1000)
    assert.deepStrictEqual(stored.map((record) => record.seq), Array.from({ length: n }, (_, i) => i + 1))
    assert.deepStrictEqual(stored.map((record) => record.event), RUNNER_EVENTS.slice(0, n))
    const row = Option.getOrThrow(yield* (yield* SessionRepo).get(sessionId))
    assert.deepStrictEqual([row.lastSeq, row.lastRseq], [n, n])
  })

const Storage = Layer.mergeAll(HostRepo.Default, SessionRepo.Default, EventStore.Default).pipe(
  Layer.provideMerge(sqliteTestLayer())
)

layer(Storage, { excludeTestServices: true, timeout: "60 seconds" })("EventStore.appendFromRunner (property)", (it) => {
  it.effect.prop(
    "batches in any order store a gap-free, duplicate-free prefix, acknowledged exactly",
    [batchesArbitrary(25)],
    ([batches]) =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const sessionId = yield* freshSession
        let acked = 0
        for (const batch of batches) {
          const expected = model(acked, batch)
          const result = yield* Effect.either(store.appendFromRunner(sessionId, batch, T0))
          if (Option.isSome(expected.gap)) {
            const error = Either.flip(result).pipe(Either.getOrThrowWith(() => new Error("expected RseqGap")))
            assert.deepStrictEqual(
              error._tag === "RseqGap" ? { expected: error.expected, got: error.got } : error,
              expected.gap.value
            )
          } else {
            const appended = Either.getOrThrow(result)
            assert.isAtLeast(appended.ackedThrough, acked)
            assert.strictEqual(appended.ackedThrough, expected.acked)
            assert.deepStrictEqual(
              appended.records.map((record) => [record.seq, record.event]),
              RUNNER_EVENTS.slice(acked, appended.ackedThrough).map((event, i) => [acked + i + 1, event])
            )
            acked = appended.ackedThrough
          }
          yield* assertPrefix(sessionId, acked)
        }
        // Whatever happened, resending everything from the acknowledgement completes the log.
        const rest = RUNNER_EVENTS.slice(acked).map((event, i) => ({ rseq: acked + i + 1, event }))
        const completed = yield* store.appendFromRunner(sessionId, rest, T0)
        assert.strictEqual(completed.ackedThrough, RUNNER_LENGTH)
        yield* assertPrefix(sessionId, RUNNER_LENGTH)
      }),
    { fastCheck: { numRuns: 30 } }
  )

  it.effect.prop(
    "concurrent pushes of such batches keep the same guarantees",
    [batchesArbitrary(20)],
    ([batches]) =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const sessionId = yield* freshSession
        const results = yield* Effect.all(
          batches.map((batch) => Effect.either(store.appendFromRunner(sessionId, batch, T0))),
          { concurrency: "unbounded" }
        )
        const n = Option.getOrThrow(yield* store.lastSeq(sessionId))
        yield* assertPrefix(sessionId, n)
        let stored = 0
        for (const result of results) {
          if (Either.isRight(result)) {
            const { ackedThrough, records } = result.right
            assert.isAtMost(ackedThrough, n)
            // A call's records are the contiguous block that ends at its acknowledgement.
            assert.deepStrictEqual(
              records.map((record) => record.seq),
              Array.from({ length: records.length }, (_, i) => ackedThrough - records.length + i + 1)
            )
            stored += records.length
          } else {
            assert.strictEqual(result.left._tag, "RseqGap")
          }
        }
        // Every stored event was stored by exactly one call.
        assert.strictEqual(stored, n)
      }),
    { fastCheck: { numRuns: 30 } }
  )
})
