/**
 * The durable outbox: journals on a real temporary directory. A "crash" is a
 * second outbox opened on the same directory without the first one shutting
 * down (its journal handles are simply abandoned), optionally after damaging
 * the journal's tail the way a crash mid-append would.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import fc from "fast-check"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { encodeRecord, type JournalRecord, replay } from "../../src/runner/durable/journal-format.js"
import { JOURNAL_FILE } from "../../src/runner/durable/JournalFile.js"
import { EventOutbox } from "../../src/runner/EventOutbox.js"

const tempDir = () => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "tether-outbox-"))

const msg = (i: number): SessionEvent => ({ type: "message", messageId: `m${i}`, role: "assistant", text: `line ${i}` })
const exited: SessionEvent = { type: "status", status: "exited", reason: "exit_code", exitCode: 0 }

/**
 * Builds an outbox on `directory` in the test's scope. Several may be open on
 * the same directory: a later one is the next process after a crash (the
 * earlier one only closes its file handles when the test ends).
 */
const outboxOn = (directory: string | undefined, capacityPerSession = 10_000, compactAfter?: number) =>
  Effect.map(
    Layer.build(EventOutbox.layer({ ...(directory === undefined ? {} : { directory }), capacityPerSession, ...(compactAfter === undefined ? {} : { compactAfter }) })),
    Context.get(EventOutbox)
  )

const unsent = (outbox: EventOutbox, sessionId: string) =>
  Effect.map(outbox.batches(100_000), (batches) => batches.find((b) => b.sessionId === sessionId)?.events ?? [])

describe("durable EventOutbox", () => {
  it.scoped("reload after a crash: exactly the unacknowledged events are resent, with the last checkpoint; rseqs continue", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const first = yield* outboxOn(dir)
      yield* first.open("ses_a", 10)
      for (let i = 1; i <= 5; i++) yield* first.emit("ses_a", msg(i), { at: i })
      yield* first.emitAll("ses_a", [{ event: msg(6) }, { event: msg(7), checkpoint: { at: 7 } }])
      yield* first.acknowledge("ses_a", 13)

      const second = yield* outboxOn(dir)
      const events = yield* unsent(second, "ses_a")
      assert.deepStrictEqual(events.map((e) => e.rseq), [14, 15, 16, 17])
      assert.deepStrictEqual(events.map((e) => e.event), [msg(4), msg(5), msg(6), msg(7)])
      const recovered = yield* second.claimRecovered("ses_a")
      assert.deepStrictEqual(recovered, { checkpoint: { at: 7 }, lastRseq: 17, finished: false, dir: NodePath.join(dir, "ses_a") })
      assert.isNull(yield* second.claimRecovered("ses_a"), "claimed once")
      // The welcome's lastRseq trims; new events continue the sequence.
      yield* second.open("ses_a", 15)
      yield* second.emit("ses_a", msg(8))
      assert.deepStrictEqual((yield* unsent(second, "ses_a")).map((e) => e.rseq), [16, 17, 18])

      // File modes: the directory 0700, the journal 0600.
      assert.strictEqual(NodeFs.statSync(NodePath.join(dir, "ses_a")).mode & 0o777, 0o700)
      assert.strictEqual(NodeFs.statSync(NodePath.join(dir, "ses_a", JOURNAL_FILE)).mode & 0o777, 0o600)
    }))

  it.scoped("trim: acknowledged records are compacted away; the journal is deleted once the finishing status is stored", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const outbox = yield* outboxOn(dir)
      yield* outbox.open("ses_t", 0)
      const journal = NodePath.join(dir, "ses_t", JOURNAL_FILE)
      for (let round = 0; round < 6; round++) {
        yield* outbox.emitAll("ses_t", Array.from({ length: 200 }, (_, i) => ({ event: msg(round * 200 + i), checkpoint: round * 200 + i })))
        yield* outbox.acknowledge("ses_t", (round + 1) * 200 - 5)
      }
      // 1200 events written, 1195 acknowledged: a compacted journal holds a header and about the last batch at most.
      const state = replay(NodeFs.readFileSync(journal))
      assert.deepStrictEqual(state.entries.map((e) => e.rseq), [1196, 1197, 1198, 1199, 1200])
      assert.isBelow(state.records, 300, "compacted")
      assert.strictEqual(state.checkpoint, 1199)
      yield* outbox.emit("ses_t", exited)
      yield* outbox.acknowledge("ses_t", 1200)
      assert.isTrue(NodeFs.existsSync(journal), "the finishing status is not stored yet")
      yield* outbox.acknowledge("ses_t", 1201)
      assert.isFalse(NodeFs.existsSync(NodePath.join(dir, "ses_t")), "the session directory is removed")
    }))

  it.scoped("a torn or corrupt tail is dropped with a warning, never fatal; the journal keeps working", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const first = yield* outboxOn(dir)
      yield* first.open("ses_c", 0)
      for (let i = 1; i <= 4; i++) yield* first.emit("ses_c", msg(i), i)
      const journal = NodePath.join(dir, "ses_c", JOURNAL_FILE)
      const bytes = NodeFs.readFileSync(journal)
      // A crash mid-append: half of the last record is on disk.
      NodeFs.writeFileSync(journal, bytes.subarray(0, bytes.length - 20))
      const second = yield* outboxOn(dir)
      assert.deepStrictEqual((yield* unsent(second, "ses_c")).map((e) => e.event), [msg(1), msg(2), msg(3)])
      assert.strictEqual((yield* second.claimRecovered("ses_c"))?.checkpoint, 3)
      yield* second.emit("ses_c", msg(5), 5)

      // A flipped byte in a complete record: it and everything after it are dropped.
      const now = NodeFs.readFileSync(journal)
      const lines = now.toString("utf8").split("\n")
      const damaged = [...lines]
      damaged[2] = damaged[2]!.replace("line 2", "line X")
      NodeFs.writeFileSync(journal, damaged.join("\n"))
      const third = yield* outboxOn(dir)
      assert.deepStrictEqual((yield* unsent(third, "ses_c")).map((e) => e.event), [msg(1)])
      // Garbage that is not a journal at all is survivable too.
      NodeFs.writeFileSync(journal, "\u0000\u0001garbage")
      const fourth = yield* outboxOn(dir)
      assert.deepStrictEqual(yield* unsent(fourth, "ses_c"), [])
    }))

  it.scoped("memory-only without a directory: no files, same behaviour", () =>
    Effect.gen(function*() {
      const outbox = yield* outboxOn(undefined)
      yield* outbox.open("s", 0)
      yield* outbox.emit("s", msg(1), { ignored: true })
      assert.isNull(yield* outbox.sessionDir("s"))
      assert.isNull(yield* outbox.claimRecovered("s"))
      assert.deepStrictEqual((yield* unsent(outbox, "s")).map((e) => e.rseq), [1])
    }))

  type Op =
    | { readonly _tag: "emit"; readonly count: number }
    | { readonly _tag: "ack"; readonly back: number }

  const ops: fc.Arbitrary<ReadonlyArray<Op>> = fc.array(
    fc.oneof(
      fc.record({ _tag: fc.constant("emit" as const), count: fc.integer({ min: 1, max: 30 }) }),
      fc.record({ _tag: fc.constant("ack" as const), back: fc.nat({ max: 10 }) })
    ),
    { maxLength: 12 }
  )

  it.effect.prop(
    "random emits, acknowledgements and a crash at any point: the reloaded outbox resends exactly the unacknowledged events",
    [ops, fc.integer({ min: 0, max: 20 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 20 })],
    ([script, startAfter, crashAt, compactEvery]) =>
      Effect.gen(function*() {
        const dir = tempDir()
        // Compacting often, so crashes also land right after compactions.
        const outbox = yield* outboxOn(dir, 50, compactEvery)
        yield* outbox.open("ses_p", startAfter)
        const emitted: Array<SessionEvent> = []
        let acked = startAfter
        // What was durably recorded when each op returned: [ackedThrough, lastRseq] and the file size then.
        const journal = NodePath.join(dir, "ses_p", JOURNAL_FILE)
        const points: Array<{ readonly size: number; readonly acked: number; readonly last: number }> = []
        const record = () => points.push({ size: NodeFs.statSync(journal).size, acked, last: startAfter + emitted.length })
        record()
        for (const op of script) {
          if (op._tag === "emit") {
            const before = startAfter + emitted.length
            // Never more than the capacity without acknowledgements: the model server keeps up.
            const room = 50 - (before - acked)
            const batch = Array.from({ length: Math.min(op.count, room) }, (_, i) => msg(before + i + 1))
            if (batch.length === 0) continue
            yield* outbox.emitAll("ses_p", batch.map((event, i) => ({ event, checkpoint: before + i + 1 })))
            emitted.push(...batch)
          } else {
            const last = startAfter + emitted.length
            acked = Math.max(acked, last - op.back)
            yield* outbox.acknowledge("ses_p", acked)
          }
          if (NodeFs.existsSync(journal)) record()
        }
        // The crash: the file is cut somewhere after the last point that returned (only unsynced bytes can be lost)…
        const size = NodeFs.existsSync(journal) ? NodeFs.statSync(journal).size : 0
        const lastPoint = points.at(-1)!
        if (size > 0 && lastPoint.size === size) {
          // …or a torn extra record is appended, as if the process died inside a write.
          const torn = encodeRecord({ k: "e", r: lastPoint.last + 1, ev: msg(999) } satisfies JournalRecord)
          NodeFs.appendFileSync(journal, torn.slice(0, Math.floor(crashAt * (torn.length - 1))))
        }
        const reloaded = yield* outboxOn(dir, 50)
        const resent = yield* unsent(reloaded, "ses_p")
        const expected = emitted.slice(lastPoint.acked - startAfter).map((event, i) => ({ rseq: lastPoint.acked + i + 1, event }))
        assert.deepStrictEqual(resent, expected)
        const recovered = yield* reloaded.claimRecovered("ses_p")
        assert.strictEqual(recovered?.lastRseq, lastPoint.last)
        if (lastPoint.last > startAfter) assert.strictEqual(recovered?.checkpoint, lastPoint.last)
        NodeFs.rmSync(dir, { recursive: true, force: true })
      }).pipe(Effect.scoped),
    { fastCheck: { numRuns: 30 } }
  )

  it("replay is a pure function of the bytes: any truncation keeps exactly the complete records before it", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 20 }), fc.nat(), (sizes, cutSeed) => {
        const records: Array<string> = [encodeRecord({ k: "h", acked: 0, cp: null })]
        let last = 0
        for (const n of sizes) {
          for (let i = 0; i < n; i++) {
            last++
            records.push(encodeRecord({ k: "e", r: last, ev: msg(last), cp: last }))
          }
          records.push(encodeRecord({ k: "a", t: last - 1 }))
        }
        const bytes = Buffer.from(records.join(""))
        const cut = cutSeed % (bytes.length + 1)
        const state = replay(bytes.subarray(0, cut))
        // The model: apply the records that are complete before the cut.
        let acked = 0
        let lastSeen = 0
        let offset = 0
        for (const line of records) {
          offset += Buffer.byteLength(line)
          if (offset > cut) break
          const json = JSON.parse(line.slice(9)) as JournalRecord
          if (json.k === "e") lastSeen = json.r
          if (json.k === "a") acked = Math.max(acked, Math.min(json.t, lastSeen))
        }
        assert.strictEqual(state.last, lastSeen)
        assert.strictEqual(state.acked, acked)
        assert.deepStrictEqual(state.entries.map((e) => e.rseq), Array.from({ length: lastSeen - acked }, (_, i) => acked + i + 1))
      }),
      { numRuns: 300 }
    )
  })
})
