/**
 * Binary wire codec of the terminal relay (byte layout: docs/protocol/terminal.md).
 *
 * One frame is one binary WebSocket message: a 1-byte type, a fixed-width
 * big-endian header, then (for some types) a variable tail that runs to the
 * end of the message. The transport delimits messages, so no length prefix.
 *
 * Both directions are total and allocation-light (no Effect per frame):
 *  - `decodeFrame(bytes)` never throws: a frame or a `FrameDecodeError`.
 *  - `encodeFrame(frame)` validates every field and never throws: the bytes
 *    or a `FrameEncodeError` (cols 0, offset > 2^53-1, lone surrogates,
 *    JSON that would not round-trip, a frame over the size limit …).
 * Encoding is canonical: every byte string the decoder accepts re-encodes to
 * exactly the same bytes (so the decoder also rejects trailing bytes,
 * non-zero reserved bits and non-canonical JSON).
 *
 * Pure code: no I/O.
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"

// ---------------------------------------------------------------------------
// Constants

/** Type byte of every frame (byte 0 of the message). 0–3 follow the numbering terminal relays use. */
export const FrameType = {
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
} as const
export type FrameTag = keyof typeof FrameType

const TAG_BY_TYPE: ReadonlyArray<FrameTag> = [
  "Output",
  "Input",
  "Resize",
  "Metadata",
  "Snapshot",
  "Ack",
  "Exit",
  "Control",
  "Error",
  "Resume"
]

/** Bytes before the variable tail (type byte included); the whole frame for fixed-size types. */
export const HEADER_BYTES: { readonly [K in FrameTag]: number } = {
  Output: 9,
  Input: 1,
  Resize: 5,
  Metadata: 1,
  Snapshot: 13,
  Ack: 9,
  Exit: 6,
  Control: 2,
  Error: 3,
  Resume: 9
}

/** Frame types with no variable tail: exactly `HEADER_BYTES` long. */
export const FIXED_SIZE_TAGS: ReadonlyArray<FrameTag> = ["Resize", "Ack", "Resume"]

/** Default bound on a whole frame (type byte included), for encoding and decoding: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1_048_576
/** Largest OUTPUT payload that fits the default bound; the relay chunks output to this. */
export const MAX_OUTPUT_DATA_BYTES = DEFAULT_MAX_FRAME_BYTES - HEADER_BYTES.Output
/** Largest stream offset: offsets are u64 on the wire but must be safe integers. */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER
export const MIN_DIMENSION = 1
export const MAX_DIMENSION = 1000
export const MIN_EXIT_CODE = -2_147_483_648
export const MAX_EXIT_CODE = 2_147_483_647
export const MAX_ERROR_CODE = 0xffff
/** Deepest nesting of arrays/objects in METADATA and CONTROL payloads: the payload object is depth 0. */
export const MAX_JSON_DEPTH = 64

/** Bit 0 of the EXIT flags byte: the exit code field is meaningful. Other bits are reserved (0). */
export const EXIT_HAS_CODE = 0x01

/** CONTROL actions and their byte (CONTROL byte 1). */
export const ControlAction = {
  take: 0,
  release: 1,
  granted: 2,
  revoked: 3,
  denied: 4
} as const
export type ControlAction = keyof typeof ControlAction
const ACTION_BY_CODE: ReadonlyArray<ControlAction> = ["take", "release", "granted", "revoked", "denied"]

// ---------------------------------------------------------------------------
// Frames

export type Json = null | boolean | number | string | ReadonlyArray<Json> | JsonObject
export interface JsonObject {
  readonly [key: string]: Json
}

/**
 * A chunk of the session's output stream. `offset` is the stream offset of
 * `data[0]` (bytes since the session started). Decoded `data` is a view into
 * the received buffer (no copy).
 */
export interface OutputFrame {
  readonly _tag: "Output"
  readonly offset: number
  readonly data: Uint8Array
}
/** Keystrokes / pasted bytes for the PTY. */
export interface InputFrame {
  readonly _tag: "Input"
  readonly data: Uint8Array
}
export interface ResizeFrame {
  readonly _tag: "Resize"
  readonly cols: number
  readonly rows: number
}
/** Session metadata (title, cwd, harness …) as a JSON object. */
export interface MetadataFrame {
  readonly _tag: "Metadata"
  readonly data: JsonObject
}
/**
 * The screen as of stream offset `offset` (all output before it applied),
 * serialized by xterm's serialize addon; OUTPUT from `offset` continues it.
 */
export interface SnapshotFrame {
  readonly _tag: "Snapshot"
  readonly offset: number
  readonly cols: number
  readonly rows: number
  readonly data: string
}
/** Cumulative: every output byte before `offset` was received (exclusive end). */
export interface AckFrame {
  readonly _tag: "Ack"
  readonly offset: number
}
/** The PTY process ended. `code` is null when unknown; `signal` e.g. "SIGTERM", null when none. */
export interface ExitFrame {
  readonly _tag: "Exit"
  readonly code: number | null
  readonly signal: string | null
}
/** Write-control handover (who may send INPUT/RESIZE); `data` carries details (`{}` when none). */
export interface ControlFrame {
  readonly _tag: "Control"
  readonly action: ControlAction
  readonly data: JsonObject
}
/** An application error, usually right before a close; `code` may reuse a close code. */
export interface ErrorFrame {
  readonly _tag: "Error"
  readonly code: number
  readonly message: string
}
/** Viewer → server on connect: it already holds every output byte before `offset` (0 = none). */
export interface ResumeFrame {
  readonly _tag: "Resume"
  readonly offset: number
}

export type TerminalFrame =
  | OutputFrame
  | InputFrame
  | ResizeFrame
  | MetadataFrame
  | SnapshotFrame
  | AckFrame
  | ExitFrame
  | ControlFrame
  | ErrorFrame
  | ResumeFrame

// ---------------------------------------------------------------------------
// Errors and close codes

export type FrameDecodeReason =
  | "empty"
  | "unknown_type"
  | "truncated"
  | "trailing"
  | "too_large"
  | "invalid_utf8"
  | "invalid_json"
  | "out_of_range"

export class FrameDecodeError extends Data.TaggedError("FrameDecodeError")<{
  readonly reason: FrameDecodeReason
  /** The type byte, when the frame had one. */
  readonly type?: number
  readonly message: string
}> {}

export type FrameEncodeReason = "out_of_range" | "invalid_utf8" | "invalid_json" | "too_large"

export class FrameEncodeError extends Data.TaggedError("FrameEncodeError")<{
  readonly reason: FrameEncodeReason
  readonly tag: FrameTag
  readonly message: string
}> {}

/** WebSocket close code (application range 4000–4999) for each decode failure; distinct per reason. */
export const CLOSE_CODES: { readonly [R in FrameDecodeReason]: number } = {
  truncated: 4400,
  empty: 4411,
  too_large: 4413,
  unknown_type: 4415,
  out_of_range: 4416,
  trailing: 4417,
  invalid_utf8: 4421,
  invalid_json: 4422
}

export const closeCodeFor = (error: FrameDecodeError): number => CLOSE_CODES[error.reason]

// ---------------------------------------------------------------------------
// Shared helpers

export interface FrameOptions {
  /** Bound on a whole frame in bytes (default `DEFAULT_MAX_FRAME_BYTES`). */
  readonly maxFrameBytes?: number
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const utf8Encoder = new TextEncoder()
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

const OFFSET_HIGH_MAX = Math.floor(MAX_OFFSET / 2 ** 32) // 0x1FFFFF

const isOffset = (n: number): boolean => Number.isSafeInteger(n) && n >= 0
const isDimension = (n: number): boolean => Number.isInteger(n) && n >= MIN_DIMENSION && n <= MAX_DIMENSION

const byteAt = (bytes: Uint8Array, i: number): number => bytes[i] as number
const readU16 = (bytes: Uint8Array, i: number): number => (byteAt(bytes, i) << 8) | byteAt(bytes, i + 1)
const readU32 = (bytes: Uint8Array, i: number): number =>
  ((byteAt(bytes, i) << 24) | (byteAt(bytes, i + 1) << 16) | (byteAt(bytes, i + 2) << 8) | byteAt(bytes, i + 3)) >>> 0

const writeU16 = (out: Uint8Array, i: number, n: number): void => {
  out[i] = n >>> 8
  out[i + 1] = n & 0xff
}
const writeU32 = (out: Uint8Array, i: number, n: number): void => {
  out[i] = n >>> 24
  out[i + 1] = (n >>> 16) & 0xff
  out[i + 2] = (n >>> 8) & 0xff
  out[i + 3] = n & 0xff
}
const writeOffset = (out: Uint8Array, i: number, n: number): void => {
  writeU32(out, i, Math.floor(n / 2 ** 32))
  writeU32(out, i + 4, n % 2 ** 32)
}

/**
 * Whether a value is JSON that survives `JSON.parse(JSON.stringify(v))` unchanged:
 * null, booleans, finite numbers, strings, arrays and plain objects of those.
 * (-0 is accepted and arrives as 0.)
 */
const isJson = (value: unknown, depth: number): boolean => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(value)
    case "object": {
      if (value === null) return true
      if (depth > MAX_JSON_DEPTH) return false
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isJson(value[i], depth + 1)) return false
        return true
      }
      const proto: unknown = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return false
      for (const key of Object.keys(value)) {
        if (!isJson((value as Record<string, unknown>)[key], depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}

/** Canonical JSON text of an object (what `JSON.stringify` writes), or undefined if it is not JSON. */
const canonicalJson = (value: JsonObject): string | undefined => {
  if (typeof value !== "object" || value === null || Array.isArray(value) || !isJson(value, 0)) return undefined
  try {
    return JSON.stringify(value)
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------
// Decoding

const decodeFail = (reason: FrameDecodeReason, type: number | undefined, message: string) =>
  Either.left(
    type === undefined ? new FrameDecodeError({ reason, message }) : new FrameDecodeError({ reason, type, message })
  )

const readOffset = (bytes: Uint8Array, i: number): number | undefined => {
  const high = readU32(bytes, i)
  return high > OFFSET_HIGH_MAX ? undefined : high * 2 ** 32 + readU32(bytes, i + 4)
}

const readText = (bytes: Uint8Array, start: number): string | undefined => {
  try {
    return utf8Decoder.decode(bytes.subarray(start))
  } catch {
    return undefined
  }
}

const readJsonObject = (text: string): JsonObject | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
    // Canonical form only: exactly what JSON.stringify writes (no whitespace, no duplicate
    // keys, integer-like keys first, shortest numbers), so that re-encoding is byte-identical.
    return isJson(value, 0) && JSON.stringify(value) === text ? (value as JsonObject) : undefined
  } catch {
    return undefined
  }
}

/**
 * Decode one binary message. Total: never throws. Checks run in this order:
 * empty, too_large (from the length alone, before reading the body),
 * unknown_type, truncated, trailing, then field values.
 */
export const decodeFrame = (
  bytes: Uint8Array,
  options?: FrameOptions
): Either.Either<TerminalFrame, FrameDecodeError> => {
  const length = bytes.length
  if (length === 0) return decodeFail("empty", undefined, "empty frame")
  const type = byteAt(bytes, 0)
  const max = options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  if (length > max) return decodeFail("too_large", type, `frame of ${length} bytes exceeds the limit of ${max}`)
  const tag = TAG_BY_TYPE[type]
  if (tag === undefined) return decodeFail("unknown_type", type, `unknown frame type ${type}`)
  const header = HEADER_BYTES[tag]
  if (length < header) {
    return decodeFail("truncated", type, `${tag} frame of ${length} bytes is shorter than its ${header}-byte header`)
  }
  if (length > header && FIXED_SIZE_TAGS.includes(tag)) {
    return decodeFail("trailing", type, `${tag} frame is exactly ${header} bytes, got ${length}`)
  }
  const badOffset = () => decodeFail("out_of_range", type, `${tag} offset exceeds 2^53-1`)
  const badText = (field: string) => decodeFail("invalid_utf8", type, `${tag} ${field} is not valid UTF-8`)
  const badJson = () => decodeFail("invalid_json", type, `${tag} payload is not a canonical JSON object`)
  const badDimensions = () =>
    decodeFail("out_of_range", type, `${tag} cols and rows must be ${MIN_DIMENSION}..${MAX_DIMENSION}`)

  switch (tag) {
    case "Output": {
      const offset = readOffset(bytes, 1)
      if (offset === undefined) return badOffset()
      return Either.right({ _tag: "Output", offset, data: bytes.subarray(9) })
    }
    case "Input":
      return Either.right({ _tag: "Input", data: bytes.subarray(1) })
    case "Resize": {
      const cols = readU16(bytes, 1)
      const rows = readU16(bytes, 3)
      if (!isDimension(cols) || !isDimension(rows)) return badDimensions()
      return Either.right({ _tag: "Resize", cols, rows })
    }
    case "Metadata": {
      const text = readText(bytes, 1)
      if (text === undefined) return badText("payload")
      const data = readJsonObject(text)
      if (data === undefined) return badJson()
      return Either.right({ _tag: "Metadata", data })
    }
    case "Snapshot": {
      const offset = readOffset(bytes, 1)
      if (offset === undefined) return badOffset()
      const cols = readU16(bytes, 9)
      const rows = readU16(bytes, 11)
      if (!isDimension(cols) || !isDimension(rows)) return badDimensions()
      const data = readText(bytes, 13)
      if (data === undefined) return badText("screen")
      return Either.right({ _tag: "Snapshot", offset, cols, rows, data })
    }
    case "Ack":
    case "Resume": {
      const offset = readOffset(bytes, 1)
      if (offset === undefined) return badOffset()
      return Either.right({ _tag: tag, offset })
    }
    case "Exit": {
      const flags = byteAt(bytes, 1)
      if ((flags & ~EXIT_HAS_CODE) !== 0) return decodeFail("out_of_range", type, `Exit reserved flag bits set`)
      const raw = readU32(bytes, 2)
      if ((flags & EXIT_HAS_CODE) === 0 && raw !== 0) {
        return decodeFail("out_of_range", type, `Exit code field must be 0 when no code is present`)
      }
      const signal = readText(bytes, 6)
      if (signal === undefined) return badText("signal")
      return Either.right({
        _tag: "Exit",
        code: (flags & EXIT_HAS_CODE) === 0 ? null : raw | 0,
        signal: signal === "" ? null : signal
      })
    }
    case "Control": {
      const action = ACTION_BY_CODE[byteAt(bytes, 1)]
      if (action === undefined) return decodeFail("out_of_range", type, `unknown Control action ${byteAt(bytes, 1)}`)
      const text = readText(bytes, 2)
      if (text === undefined) return badText("payload")
      const data = readJsonObject(text)
      if (data === undefined) return badJson()
      return Either.right({ _tag: "Control", action, data })
    }
    case "Error": {
      const message = readText(bytes, 3)
      if (message === undefined) return badText("message")
      return Either.right({ _tag: "Error", code: readU16(bytes, 1), message })
    }
  }
}

// ---------------------------------------------------------------------------
// Encoding

/**
 * Encode one frame. Total: never throws; an invalid field or a frame over the
 * size limit is a `FrameEncodeError` (nothing is clamped or truncated).
 */
export const encodeFrame = (
  frame: TerminalFrame,
  options?: FrameOptions
): Either.Either<Uint8Array, FrameEncodeError> => {
  const tag = frame._tag
  const fail = (reason: FrameEncodeReason, message: string) =>
    Either.left(new FrameEncodeError({ reason, tag, message: `${tag}: ${message}` }))
  const badOffset = (n: number) => fail("out_of_range", `offset ${n} is not an integer in 0..2^53-1`)
  const badDimensions = (cols: number, rows: number) =>
    fail("out_of_range", `cols ${cols} / rows ${rows} must be integers in ${MIN_DIMENSION}..${MAX_DIMENSION}`)
  const text = (value: string): Uint8Array | undefined =>
    LONE_SURROGATE.test(value) ? undefined : utf8Encoder.encode(value)
  const header = HEADER_BYTES[tag]
  const max = options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  const withTail = (tail: Uint8Array): Either.Either<Uint8Array, FrameEncodeError> => {
    const length = header + tail.length
    if (length > max) return fail("too_large", `frame of ${length} bytes exceeds the limit of ${max}`)
    const out = new Uint8Array(length)
    out[0] = FrameType[tag]
    out.set(tail, header)
    return Either.right(out)
  }
  const fixed = (): Uint8Array => {
    const out = new Uint8Array(header)
    out[0] = FrameType[tag]
    return out
  }

  switch (frame._tag) {
    case "Output":
      if (!isOffset(frame.offset)) return badOffset(frame.offset)
      return Either.map(withTail(frame.data), (out) => {
        writeOffset(out, 1, frame.offset)
        return out
      })
    case "Input":
      return withTail(frame.data)
    case "Resize": {
      if (!isDimension(frame.cols) || !isDimension(frame.rows)) return badDimensions(frame.cols, frame.rows)
      const out = fixed()
      writeU16(out, 1, frame.cols)
      writeU16(out, 3, frame.rows)
      return Either.right(out)
    }
    case "Metadata": {
      const json = canonicalJson(frame.data)
      if (json === undefined) return fail("invalid_json", "data is not a JSON object (plain objects, arrays, finite numbers, strings, booleans, null)")
      return withTail(utf8Encoder.encode(json))
    }
    case "Snapshot": {
      if (!isOffset(frame.offset)) return badOffset(frame.offset)
      if (!isDimension(frame.cols) || !isDimension(frame.rows)) return badDimensions(frame.cols, frame.rows)
      const data = text(frame.data)
      if (data === undefined) return fail("invalid_utf8", "screen contains a lone surrogate")
      return Either.map(withTail(data), (out) => {
        writeOffset(out, 1, frame.offset)
        writeU16(out, 9, frame.cols)
        writeU16(out, 11, frame.rows)
        return out
      })
    }
    case "Ack":
    case "Resume": {
      if (!isOffset(frame.offset)) return badOffset(frame.offset)
      const out = fixed()
      writeOffset(out, 1, frame.offset)
      return Either.right(out)
    }
    case "Exit": {
      const code = frame.code
      if (code !== null && !(Number.isInteger(code) && code >= MIN_EXIT_CODE && code <= MAX_EXIT_CODE)) {
        return fail("out_of_range", `code ${code} is not a 32-bit signed integer`)
      }
      if (frame.signal === "") return fail("out_of_range", "signal must be null or a non-empty name")
      const signal = frame.signal === null ? new Uint8Array(0) : text(frame.signal)
      if (signal === undefined) return fail("invalid_utf8", "signal contains a lone surrogate")
      return Either.map(withTail(signal), (out) => {
        if (code !== null) {
          out[1] = EXIT_HAS_CODE
          writeU32(out, 2, code >>> 0)
        }
        return out
      })
    }
    case "Control": {
      const action = Object.hasOwn(ControlAction, frame.action) ? ControlAction[frame.action] : undefined
      if (action === undefined) return fail("out_of_range", `unknown action ${String(frame.action)}`)
      const json = canonicalJson(frame.data)
      if (json === undefined) return fail("invalid_json", "data is not a JSON object (plain objects, arrays, finite numbers, strings, booleans, null)")
      return Either.map(withTail(utf8Encoder.encode(json)), (out) => {
        out[1] = action
        return out
      })
    }
    case "Error": {
      if (!(Number.isInteger(frame.code) && frame.code >= 0 && frame.code <= MAX_ERROR_CODE)) {
        return fail("out_of_range", `code ${frame.code} is not in 0..65535`)
      }
      const message = text(frame.message)
      if (message === undefined) return fail("invalid_utf8", "message contains a lone surrogate")
      return Either.map(withTail(message), (out) => {
        writeU16(out, 1, frame.code)
        return out
      })
    }
  }
}

/**
 * An OUTPUT frame built from several pieces of data with one copy and no
 * `Either`: the relay's hot path. The caller guarantees what `encodeFrame`
 * would check: `offset` is an integer in 0..2^53−1 and the pieces add up to
 * at most `MAX_OUTPUT_DATA_BYTES`.
 */
export const outputFrameOf = (offset: number, pieces: ReadonlyArray<Uint8Array>): Uint8Array => {
  let length = 0
  for (const piece of pieces) length += piece.length
  const frame = new Uint8Array(HEADER_BYTES.Output + length)
  frame[0] = FrameType.Output
  const view = new DataView(frame.buffer)
  view.setUint32(1, Math.floor(offset / 0x1_0000_0000))
  view.setUint32(5, offset >>> 0)
  let position = HEADER_BYTES.Output
  for (const piece of pieces) {
    frame.set(piece, position)
    position += piece.length
  }
  return frame
}
