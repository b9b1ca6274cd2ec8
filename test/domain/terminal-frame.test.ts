import { describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import { assert } from "vitest"
import {
  CLOSE_CODES,
  closeCodeFor,
  type ControlAction,
  decodeFrame,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  FIXED_SIZE_TAGS,
  FrameDecodeError,
  type FrameDecodeReason,
  type FrameTag,
  FrameType,
  HEADER_BYTES,
  type Json,
  type JsonObject,
  MAX_DIMENSION,
  MAX_JSON_DEPTH,
  MAX_OFFSET,
  MAX_OUTPUT_DATA_BYTES,
  type TerminalFrame
} from "../../src/domain/terminal-frame.js"

// ---------------------------------------------------------------------------
// Helpers

const fromHex = (hex: string): Uint8Array => {
  const clean = hex.replace(/\s+/g, "")
  const out = new Uint8Array(clean.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16)
  return out
}
const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ")
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

const encodeOk = (frame: TerminalFrame): Uint8Array => {
  const result = encodeFrame(frame)
  if (Either.isLeft(result)) return assert.fail(`encode failed: ${result.left.message}`)
  return result.right
}
const decodeOk = (bytes: Uint8Array): TerminalFrame => {
  const result = decodeFrame(bytes)
  if (Either.isLeft(result)) return assert.fail(`decode failed: ${result.left.reason} ${result.left.message}`)
  return result.right
}
const decodeReason = (bytes: Uint8Array, maxFrameBytes?: number): FrameDecodeReason | "ok" => {
  const result = decodeFrame(bytes, maxFrameBytes === undefined ? undefined : { maxFrameBytes })
  return Either.isLeft(result) ? result.left.reason : "ok"
}
const encodeReason = (frame: TerminalFrame): string => {
  const result = encodeFrame(frame)
  return Either.isLeft(result) ? result.left.reason : "ok"
}
/** Frames compared with their byte fields as plain arrays (decoded data is a subarray view). */
const plain = (frame: TerminalFrame): unknown =>
  "data" in frame && frame.data instanceof Uint8Array ? { ...frame, data: Array.from(frame.data) } : frame

// ---------------------------------------------------------------------------
// Arbitraries

const offset = fc.oneof(
  fc.maxSafeNat(),
  fc.nat(1000).map((d) => MAX_OFFSET - d),
  fc.nat(1000).map((d) => 2 ** 32 - 500 + d),
  fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, MAX_OFFSET)
)
const bytes = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 64 }))
const dimension = fc.oneof(fc.integer({ min: 1, max: MAX_DIMENSION }), fc.constantFrom(1, MAX_DIMENSION))
const text = fc.oneof(fc.constant(""), fc.string({ unit: "binary", maxLength: 40 }), fc.constant("\uFEFFbom"))
/** JSON values normalised through JSON itself (fast-check's jsonValue may contain -0). */
const jsonObject: fc.Arbitrary<JsonObject> = fc
  .dictionary(fc.string({ unit: "binary", maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), {
    maxKeys: 5,
    noNullPrototype: true
  })
  .map((o) => JSON.parse(JSON.stringify(o)) as JsonObject)
const action = fc.constantFrom<ControlAction>("take", "release", "granted", "revoked", "denied")

const frameArbitraries: { readonly [K in FrameTag]: fc.Arbitrary<TerminalFrame> } = {
  Output: fc.record({ _tag: fc.constant("Output" as const), offset, data: bytes }),
  Input: fc.record({ _tag: fc.constant("Input" as const), data: bytes }),
  Resize: fc.record({ _tag: fc.constant("Resize" as const), cols: dimension, rows: dimension }),
  Metadata: fc.record({ _tag: fc.constant("Metadata" as const), data: jsonObject }),
  Snapshot: fc.record({ _tag: fc.constant("Snapshot" as const), offset, cols: dimension, rows: dimension, data: text }),
  Ack: fc.record({ _tag: fc.constant("Ack" as const), offset }),
  Exit: fc.record({
    _tag: fc.constant("Exit" as const),
    code: fc.oneof(fc.constant(null), fc.integer(), fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 0)),
    signal: fc.oneof(fc.constant(null), fc.constantFrom("SIGTERM", "SIGKILL", "SIGHUP"), text.filter((s) => s !== ""))
  }),
  Control: fc.record({ _tag: fc.constant("Control" as const), action, data: jsonObject }),
  Error: fc.record({ _tag: fc.constant("Error" as const), code: fc.integer({ min: 0, max: 0xffff }), message: text }),
  Resume: fc.record({ _tag: fc.constant("Resume" as const), offset })
}
const anyFrame = fc.oneof(...Object.values(frameArbitraries))
const tags = Object.keys(FrameType) as ReadonlyArray<FrameTag>

// ---------------------------------------------------------------------------
// Golden vectors: the same bytes as the examples in docs/protocol/terminal.md

const golden: ReadonlyArray<readonly [string, TerminalFrame, string]> = [
  ["OUTPUT at 1234", { _tag: "Output", offset: 1234, data: utf8("hi\r\n") }, "00 00 00 00 00 00 00 04 d2 68 69 0d 0a"],
  ["OUTPUT at 2^53-1, empty", { _tag: "Output", offset: MAX_OFFSET, data: new Uint8Array(0) }, "00 00 1f ff ff ff ff ff ff"],
  ["INPUT", { _tag: "Input", data: utf8("ls\r") }, "01 6c 73 0d"],
  ["RESIZE 80x24", { _tag: "Resize", cols: 80, rows: 24 }, "02 00 50 00 18"],
  ["RESIZE 1000x1", { _tag: "Resize", cols: 1000, rows: 1 }, "02 03 e8 00 01"],
  ["METADATA", { _tag: "Metadata", data: { title: "bash" } }, "03 7b 22 74 69 74 6c 65 22 3a 22 62 61 73 68 22 7d"],
  [
    "SNAPSHOT",
    { _tag: "Snapshot", offset: 4096, cols: 80, rows: 24, data: "$ " },
    "04 00 00 00 00 00 00 10 00 00 50 00 18 24 20"
  ],
  ["ACK at 2^32+5", { _tag: "Ack", offset: 2 ** 32 + 5 }, "05 00 00 00 01 00 00 00 05"],
  ["EXIT 0", { _tag: "Exit", code: 0, signal: null }, "06 01 00 00 00 00"],
  ["EXIT -1", { _tag: "Exit", code: -1, signal: null }, "06 01 ff ff ff ff"],
  ["EXIT by SIGTERM", { _tag: "Exit", code: null, signal: "SIGTERM" }, "06 00 00 00 00 00 53 49 47 54 45 52 4d"],
  ["CONTROL take", { _tag: "Control", action: "take", data: {} }, "07 00 7b 7d"],
  [
    "CONTROL granted",
    { _tag: "Control", action: "granted", data: { holder: "ana" } },
    "07 02 7b 22 68 6f 6c 64 65 72 22 3a 22 61 6e 61 22 7d"
  ],
  ["ERROR 4413", { _tag: "Error", code: 4413, message: "too large" }, "08 11 3d 74 6f 6f 20 6c 61 72 67 65"],
  ["RESUME at 4096", { _tag: "Resume", offset: 4096 }, "09 00 00 00 00 00 00 10 00"],
  ["RESUME from scratch", { _tag: "Resume", offset: 0 }, "09 00 00 00 00 00 00 00 00"]
]

describe("golden vectors", () => {
  for (const [name, frame, hex] of golden) {
    it(name, () => {
      assert.strictEqual(toHex(encodeOk(frame)), hex)
      assert.deepStrictEqual(plain(decodeOk(fromHex(hex))), plain(frame))
    })
  }

  it("cover every frame type", () => {
    assert.deepStrictEqual(new Set(golden.map(([, frame]) => frame._tag)), new Set(tags))
  })

  it("type bytes are fixed", () => {
    assert.deepStrictEqual(FrameType, {
      Output: 0,
      Input: 1,
      Resize: 2,
      Metadata: 3,
      Snapshot: 4,
      Ack: 5,
      Exit: 6,
      Control: 7,
      Error: 8,
      Resume: 9
    })
  })
})

// ---------------------------------------------------------------------------

describe("round trip", () => {
  for (const tag of tags) {
    it.prop(`${tag}: decode(encode(f)) = f`, [frameArbitraries[tag]], ([frame]) => {
      const encoded = encodeOk(frame)
      assert.strictEqual(encoded[0], FrameType[frame._tag])
      assert.deepStrictEqual(plain(decodeOk(encoded)), plain(frame))
    })
  }

  it("OUTPUT at the maximum size round-trips; one byte more is too_large", () => {
    const data = new Uint8Array(MAX_OUTPUT_DATA_BYTES).fill(0x41)
    const encoded = encodeOk({ _tag: "Output", offset: MAX_OFFSET, data })
    assert.strictEqual(encoded.length, DEFAULT_MAX_FRAME_BYTES)
    const decoded = decodeOk(encoded)
    assert.isTrue(decoded._tag === "Output" && decoded.offset === MAX_OFFSET && decoded.data.length === data.length)
    const over = encodeFrame({ _tag: "Output", offset: 0, data: new Uint8Array(MAX_OUTPUT_DATA_BYTES + 1) })
    assert.isTrue(Either.isLeft(over) && over.left.reason === "too_large")
  })

  it("SNAPSHOT at the maximum size round-trips (multi-byte text); the limit is configurable", () => {
    const room = DEFAULT_MAX_FRAME_BYTES - HEADER_BYTES.Snapshot
    const data = "é".repeat((room - 1) / 2) + "$" // "é" is 2 bytes in UTF-8
    const frame: TerminalFrame = { _tag: "Snapshot", offset: 7, cols: 1000, rows: 1000, data }
    assert.strictEqual(encodeOk(frame).length, DEFAULT_MAX_FRAME_BYTES)
    assert.deepStrictEqual(decodeOk(encodeOk(frame)), frame)
    const bigger = { ...frame, data: data + "x" }
    assert.strictEqual(encodeReason(bigger), "too_large")
    const encoded = encodeFrame(bigger, { maxFrameBytes: 2 * DEFAULT_MAX_FRAME_BYTES })
    assert.isTrue(Either.isRight(encoded))
    if (Either.isRight(encoded)) {
      assert.strictEqual(decodeReason(encoded.right), "too_large")
      assert.strictEqual(decodeReason(encoded.right, 2 * DEFAULT_MAX_FRAME_BYTES), "ok")
    }
  })

  it("a UTF-8 byte order mark in text survives", () => {
    const frame: TerminalFrame = { _tag: "Error", code: 1, message: "\uFEFF" }
    assert.strictEqual(toHex(encodeOk(frame)), "08 00 01 ef bb bf")
    assert.deepStrictEqual(decodeOk(encodeOk(frame)), frame)
  })
})

// ---------------------------------------------------------------------------

describe("encoding validates", () => {
  const cyclic: Record<string, Json> = {}
  ;(cyclic as Record<string, unknown>)["self"] = cyclic
  let deep: Json = {}
  for (let i = 0; i < MAX_JSON_DEPTH + 1; i++) deep = { d: deep }
  const invalid: ReadonlyArray<readonly [TerminalFrame, string]> = [
    [{ _tag: "Resize", cols: 0, rows: 24 }, "out_of_range"],
    [{ _tag: "Resize", cols: 80, rows: 1001 }, "out_of_range"],
    [{ _tag: "Resize", cols: 80.5, rows: 24 }, "out_of_range"],
    [{ _tag: "Snapshot", offset: 0, cols: 80, rows: 0, data: "" }, "out_of_range"],
    [{ _tag: "Output", offset: -1, data: new Uint8Array(0) }, "out_of_range"],
    [{ _tag: "Output", offset: MAX_OFFSET + 1, data: new Uint8Array(0) }, "out_of_range"],
    [{ _tag: "Ack", offset: Number.NaN }, "out_of_range"],
    [{ _tag: "Resume", offset: 1.5 }, "out_of_range"],
    [{ _tag: "Exit", code: 2 ** 31, signal: null }, "out_of_range"],
    [{ _tag: "Exit", code: 0, signal: "" }, "out_of_range"],
    [{ _tag: "Exit", code: null, signal: "SIG\uD800" }, "invalid_utf8"],
    [{ _tag: "Error", code: 65536, message: "" }, "out_of_range"],
    [{ _tag: "Error", code: 1, message: "\uDC00x" }, "invalid_utf8"],
    [{ _tag: "Snapshot", offset: 0, cols: 1, rows: 1, data: "a\uD83D" }, "invalid_utf8"],
    [{ _tag: "Control", action: "steal" as ControlAction, data: {} }, "out_of_range"],
    [{ _tag: "Control", action: "toString" as ControlAction, data: {} }, "out_of_range"],
    [{ _tag: "Metadata", data: { n: Number.NaN } }, "invalid_json"],
    [{ _tag: "Metadata", data: { n: Number.POSITIVE_INFINITY } }, "invalid_json"],
    [{ _tag: "Metadata", data: { when: new Date(0) as unknown as Json } }, "invalid_json"],
    [{ _tag: "Metadata", data: { u: undefined as unknown as Json } }, "invalid_json"],
    [{ _tag: "Metadata", data: [1, 2] as unknown as JsonObject }, "invalid_json"],
    [{ _tag: "Metadata", data: null as unknown as JsonObject }, "invalid_json"],
    [{ _tag: "Metadata", data: cyclic }, "invalid_json"],
    [{ _tag: "Metadata", data: deep as JsonObject }, "invalid_json"]
  ]
  for (const [frame, reason] of invalid) {
    it(`${frame._tag} ${JSON.stringify(frame, (_k, v: unknown) => (v === cyclic ? "<cycle>" : v))?.slice(0, 60)}`, () => {
      assert.strictEqual(encodeReason(frame), reason)
    })
  }

  it("JSON nested exactly MAX_JSON_DEPTH deep is accepted", () => {
    let ok: Json = 1
    for (let i = 0; i < MAX_JSON_DEPTH; i++) ok = [ok]
    assert.strictEqual(encodeReason({ _tag: "Metadata", data: { ok } }), "ok")
  })

  it("lone surrogates inside JSON are fine (JSON escapes them)", () => {
    const frame: TerminalFrame = { _tag: "Metadata", data: { "\uD800": "\uDC00" } }
    assert.deepStrictEqual(decodeOk(encodeOk(frame)), frame)
  })
})

// ---------------------------------------------------------------------------

describe("decoding is total and canonical", () => {
  /** Anything the decoder accepts re-encodes to exactly the same bytes. */
  const checkCanonical = (input: Uint8Array): void => {
    const decoded = decodeFrame(input)
    if (Either.isRight(decoded)) {
      assert.strictEqual(toHex(encodeOk(decoded.right)), toHex(input))
    } else {
      assert.instanceOf(decoded.left, FrameDecodeError)
      assert.isTrue(decoded.left.reason in CLOSE_CODES)
    }
  }

  it.prop("arbitrary bytes: a typed error or a frame that re-encodes identically", [fc.uint8Array({ maxLength: 40 })], ([b]) =>
    checkCanonical(b)
  )

  it.prop(
    "arbitrary bodies behind a known type byte",
    [fc.integer({ min: 0, max: 11 }), fc.uint8Array({ maxLength: 24 })],
    ([type, body]) => checkCanonical(Uint8Array.of(type, ...body))
  )

  it.prop(
    "mutated valid frames (byte flips, insertions, deletions)",
    [anyFrame, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("set", "insert", "delete")],
    ([frame, at, value, op]) => {
      const encoded = Array.from(encodeOk(frame))
      const i = at % (encoded.length + 1)
      if (op === "set") encoded[Math.min(i, encoded.length - 1)] = value
      else if (op === "insert") encoded.splice(i, 0, value)
      else encoded.splice(i, 1)
      checkCanonical(Uint8Array.from(encoded))
    }
  )

  it.prop("payload text that is JSON but not canonical JSON", [jsonObject, fc.constantFrom(3, 7)], ([data, type]) => {
    const pretty = JSON.stringify(data, null, 1)
    const prefix = type === 3 ? [3] : [7, 0]
    const reason = decodeReason(Uint8Array.from([...prefix, ...utf8(pretty)]))
    assert.strictEqual(reason, pretty === JSON.stringify(data) ? "ok" : "invalid_json")
  })

  const rejected: ReadonlyArray<readonly [string, string, FrameDecodeReason]> = [
    ["empty", "", "empty"],
    ["type 10", "0a", "unknown_type"],
    ["type 255", "ff 00 00", "unknown_type"],
    ["OUTPUT header cut", "00 00 00 00", "truncated"],
    ["OUTPUT offset 2^53", "00 00 20 00 00 00 00 00 00 41", "out_of_range"],
    ["OUTPUT offset 2^64-1", "00 ff ff ff ff ff ff ff ff", "out_of_range"],
    ["RESIZE cut", "02 00 50 00", "truncated"],
    ["RESIZE trailing byte", "02 00 50 00 18 00", "trailing"],
    ["RESIZE cols 0", "02 00 00 00 18", "out_of_range"],
    ["RESIZE rows 1001", "02 00 50 03 e9", "out_of_range"],
    ["METADATA empty", "03", "invalid_json"],
    ["METADATA array", "03 5b 5d", "invalid_json"],
    ["METADATA null", "03 6e 75 6c 6c", "invalid_json"],
    ["METADATA with a space", "03 7b 20 7d", "invalid_json"],
    ['METADATA {"a":1.0}', `03 ${toHex(utf8('{"a":1.0}'))}`, "invalid_json"],
    ['METADATA duplicate keys {"a":1,"a":2}', `03 ${toHex(utf8('{"a":1,"a":2}'))}`, "invalid_json"],
    ['METADATA key order {"b":1,"1":2}', `03 ${toHex(utf8('{"b":1,"1":2}'))}`, "invalid_json"],
    ["METADATA invalid UTF-8", "03 7b 22 ff 22 3a 31 7d", "invalid_utf8"],
    ["SNAPSHOT cut", "04 00 00 00 00 00 00 10 00 00 50 00", "truncated"],
    ["SNAPSHOT rows 0", "04 00 00 00 00 00 00 10 00 00 50 00 00", "out_of_range"],
    ["SNAPSHOT overlong UTF-8", "04 00 00 00 00 00 00 10 00 00 50 00 18 c0 af", "invalid_utf8"],
    ["SNAPSHOT UTF-8 surrogate", "04 00 00 00 00 00 00 10 00 00 50 00 18 ed a0 80", "invalid_utf8"],
    ["ACK trailing", "05 00 00 00 00 00 00 10 00 00", "trailing"],
    ["ACK offset 2^53", "05 00 20 00 00 00 00 00 00", "out_of_range"],
    ["EXIT cut", "06 01 00 00 00", "truncated"],
    ["EXIT reserved flag", "06 03 00 00 00 00", "out_of_range"],
    ["EXIT code bytes without the flag", "06 00 00 00 00 01", "out_of_range"],
    ["EXIT signal invalid UTF-8", "06 00 00 00 00 00 ff", "invalid_utf8"],
    ["CONTROL without action", "07", "truncated"],
    ["CONTROL unknown action", "07 05 7b 7d", "out_of_range"],
    ["CONTROL without payload", "07 00", "invalid_json"],
    ["ERROR cut", "08 11", "truncated"],
    ["ERROR invalid UTF-8", "08 11 3d 80", "invalid_utf8"],
    ["RESUME cut", "09 00 00 00 00 00 00 10", "truncated"],
    ["RESUME offset 2^63", "09 80 00 00 00 00 00 00 00", "out_of_range"]
  ]
  for (const [name, hex, reason] of rejected) {
    it(`rejects ${name} as ${reason}`, () => assert.strictEqual(decodeReason(fromHex(hex)), reason))
  }

  it("errors carry the type byte when there is one", () => {
    const unknown = decodeFrame(fromHex("ff"))
    assert.isTrue(Either.isLeft(unknown) && unknown.left.type === 255 && unknown.left._tag === "FrameDecodeError")
    const empty = decodeFrame(new Uint8Array(0))
    assert.isTrue(Either.isLeft(empty) && empty.left.type === undefined)
  })
})

// ---------------------------------------------------------------------------

describe("truncation", () => {
  it.prop("every prefix of a valid frame is empty, truncated, or (tail types only) a shorter frame", [anyFrame], ([frame]) => {
    const encoded = encodeOk(frame)
    const header = HEADER_BYTES[frame._tag]
    for (let k = 0; k < encoded.length; k++) {
      const prefix = encoded.subarray(0, k)
      const result = decodeFrame(prefix)
      if (k === 0) assert.strictEqual(decodeReason(prefix), "empty")
      else if (k < header) assert.strictEqual(decodeReason(prefix), "truncated")
      else {
        // Only frames with a variable tail get here: cutting the tail is inherent (the transport
        // delimits messages). Raw bytes stay valid; UTF-8 may be cut mid-character; JSON breaks.
        assert.isFalse(FIXED_SIZE_TAGS.includes(frame._tag))
        if (Either.isRight(result)) {
          assert.strictEqual(result.right._tag, frame._tag)
          assert.strictEqual(toHex(encodeOk(result.right)), toHex(prefix))
        } else {
          assert.include(["invalid_utf8", "invalid_json"], result.left.reason)
        }
        if (frame._tag === "Output" || frame._tag === "Input") assert.isTrue(Either.isRight(result))
      }
    }
  })
})

// ---------------------------------------------------------------------------

describe("size limit", () => {
  /** A buffer whose body cannot be read: the limit must be enforced from the length alone. */
  class Unreadable extends Uint8Array {
    override subarray(_begin?: number, _end?: number): Uint8Array<ArrayBuffer> {
      throw new Error("the body was read")
    }
  }

  it.prop(
    "frames over the limit are too_large whatever they contain",
    [fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 4096 }), fc.nat(64)],
    ([type, maxFrameBytes, extra]) => {
      const frame = new Unreadable(maxFrameBytes + 1 + extra)
      frame[0] = type
      const result = decodeFrame(frame, { maxFrameBytes })
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left.reason, "too_large")
        assert.strictEqual(result.left.type, type)
      }
    }
  )

  it("the default limit is 1 MiB, frame type byte included", () => {
    const atLimit = new Uint8Array(DEFAULT_MAX_FRAME_BYTES).fill(0x20)
    atLimit[0] = FrameType.Input
    assert.strictEqual(decodeReason(atLimit), "ok")
    const over = new Uint8Array(DEFAULT_MAX_FRAME_BYTES + 1)
    over[0] = FrameType.Input
    assert.strictEqual(decodeReason(over), "too_large")
  })
})

// ---------------------------------------------------------------------------

describe("close codes", () => {
  const reasons = Object.keys(CLOSE_CODES) as ReadonlyArray<FrameDecodeReason>

  it("are distinct per reason and in the application range", () => {
    const codes = reasons.map((r) => CLOSE_CODES[r])
    assert.strictEqual(new Set(codes).size, codes.length)
    for (const code of codes) assert.isTrue(code >= 4000 && code <= 4999)
  })

  it("are pinned", () => {
    assert.deepStrictEqual(CLOSE_CODES, {
      truncated: 4400,
      empty: 4411,
      too_large: 4413,
      unknown_type: 4415,
      out_of_range: 4416,
      trailing: 4417,
      invalid_utf8: 4421,
      invalid_json: 4422
    })
  })

  it("closeCodeFor follows the table", () => {
    for (const reason of reasons) {
      assert.strictEqual(closeCodeFor(new FrameDecodeError({ reason, message: reason })), CLOSE_CODES[reason])
    }
    const tooLarge = decodeFrame(new Uint8Array(10), { maxFrameBytes: 9 })
    assert.isTrue(Either.isLeft(tooLarge) && closeCodeFor(tooLarge.left) === 4413)
  })
})

describe("decodeFrame fuzz", () => {
  it("100 000 random and mutated frames: never a throw, always a typed answer, no hang", () => {
    // Deterministic (seeded) so a failure reproduces; valid frames come from the same arbitraries as above.
    const valid = fc.sample(anyFrame, { numRuns: 2000, seed: 4242 }).map((frame) => encodeOk(frame))
    let state = 0x9e3779b9
    const next = () => {
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      return state >>> 0
    }
    const counts = { ok: 0, error: 0 }
    for (let i = 0; i < 100_000; i++) {
      let input: Uint8Array
      if (i % 2 === 0) {
        input = new Uint8Array(next() % 64)
        for (let j = 0; j < input.length; j++) input[j] = next() & 0xff
        if (input.length > 0 && i % 4 === 0) input[0] = next() % 12 // mostly known types
      } else {
        const bytes = Array.from(valid[next() % valid.length]!)
        for (let m = 1 + (next() % 4); m > 0; m--) {
          const at = next() % (bytes.length + 1)
          switch (next() % 3) {
            case 0:
              if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = next() & 0xff
              break
            case 1:
              bytes.splice(at, 0, next() & 0xff)
              break
            default:
              bytes.splice(at, 1)
          }
        }
        input = Uint8Array.from(bytes)
      }
      const decoded = decodeFrame(input)
      if (Either.isRight(decoded)) counts.ok++
      else counts.error++
    }
    assert.strictEqual(counts.ok + counts.error, 100_000)
    assert.isAbove(counts.ok, 1000, "the mutations keep some frames valid")
    assert.isAbove(counts.error, 1000)
  })
})
