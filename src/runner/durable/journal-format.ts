/**
 * The byte format of a session's durable outbox journal, and its replay. Pure:
 * no I/O, so it is property-tested on its own.
 *
 * A journal is a sequence of lines, each `CRC32HEX JSON\n` (CRC-32 of the
 * JSON text, 8 lower-case hex digits). Three kinds of record:
 *
 * - `{"k":"h","acked":A,"cp":C}`: the header a compacted journal starts
 *   with: the server stored everything through rseq A (the events after it
 *   follow from A + 1), and C is the last checkpoint recorded (or null).
 * - `{"k":"e","r":R,"ev":EVENT,"cp":C}`: event R (always the previous
 *   record's last rseq + 1), with the harness's checkpoint after it (`cp`
 *   omitted when the harness gave none: the previous checkpoint still holds).
 * - `{"k":"a","t":T}`: the server acknowledged everything through rseq T.
 *
 * Replay reads records in order and stops at the first line that is torn (no
 * final newline: a crash mid-append), fails its checksum, does not parse, or
 * breaks the rseq sequence. Everything after that point is dropped and
 * reported (`droppedBytes`); it is never fatal. Since each append is one
 * write followed by an fsync before `emit` returns, only the unsynced tail can
 * be damaged, and what replay keeps is exactly what was durably recorded.
 */
import { crc32 } from "node:zlib"

export interface JournalEntry {
  readonly rseq: number
  readonly event: unknown
}

export type JournalRecord =
  | { readonly k: "h"; readonly acked: number; readonly cp: unknown }
  | { readonly k: "e"; readonly r: number; readonly ev: unknown; readonly cp?: unknown }
  | { readonly k: "a"; readonly t: number }

/** What a journal says: the unacknowledged events and where the session stands. */
export interface JournalState {
  /** The highest rseq the server acknowledged (as far as the journal knows). */
  readonly acked: number
  /** The highest rseq assigned. */
  readonly last: number
  /** The last checkpoint recorded, or null. */
  readonly checkpoint: unknown
  /** Events above `acked`, in rseq order (contiguous up to `last`). */
  readonly entries: ReadonlyArray<JournalEntry>
  /** Records replayed (header, events and acks). */
  readonly records: number
  /** Bytes after the last good record (a torn or corrupt tail); 0 for a clean journal. */
  readonly droppedBytes: number
}

const hex8 = (n: number): string => n.toString(16).padStart(8, "0")

/** One record as a journal line (with its newline). */
export const encodeRecord = (record: JournalRecord): string => {
  const json = JSON.stringify(record)
  return `${hex8(crc32(json))} ${json}\n`
}

/** The content of a compacted journal: a header and the unacknowledged events. */
export const encodeCompacted = (state: Pick<JournalState, "acked" | "checkpoint" | "entries">): string => {
  let out = encodeRecord({ k: "h", acked: state.acked, cp: state.checkpoint ?? null })
  for (const entry of state.entries) out += encodeRecord({ k: "e", r: entry.rseq, ev: entry.event })
  return out
}

const isInt = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0

const parseLine = (line: string): JournalRecord | null => {
  if (line.length < 10 || line[8] !== " ") return null
  const json = line.slice(9)
  if (line.slice(0, 8) !== hex8(crc32(json))) return null
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    return null
  }
  if (typeof value !== "object" || value === null || !("k" in value)) return null
  const record = value as Record<string, unknown>
  switch (record["k"]) {
    case "h":
      return isInt(record["acked"]) ? { k: "h", acked: record["acked"], cp: record["cp"] ?? null } : null
    case "e":
      return isInt(record["r"]) && "ev" in record
        ? "cp" in record ? { k: "e", r: record["r"], ev: record["ev"], cp: record["cp"] } : { k: "e", r: record["r"], ev: record["ev"] }
        : null
    case "a":
      return isInt(record["t"]) ? { k: "a", t: record["t"] } : null
    default:
      return null
  }
}

/** Replays a journal's bytes (see the module comment); never throws. */
export const replay = (content: Uint8Array): JournalState => {
  const text = Buffer.from(content.buffer, content.byteOffset, content.byteLength)
  let acked = 0
  let last = 0
  let checkpoint: unknown = null
  let entries: Array<JournalEntry> = []
  let records = 0
  let position = 0
  while (position < text.length) {
    const newline = text.indexOf(0x0a, position)
    if (newline === -1) break // torn: the crash came mid-append
    const record = parseLine(text.toString("utf8", position, newline))
    if (record === null) break
    if (record.k === "h") {
      if (records > 0) break // a header only ever starts a journal
      acked = record.acked
      last = record.acked
      checkpoint = record.cp
    } else if (record.k === "e") {
      if (record.r !== last + 1) break
      last = record.r
      entries.push({ rseq: record.r, event: record.ev })
      if (record.cp !== undefined) checkpoint = record.cp
    } else {
      const through = Math.min(record.t, last)
      if (through > acked) {
        acked = through
        entries = entries.filter((entry) => entry.rseq > acked)
      }
    }
    records++
    position = newline + 1
  }
  return { acked, last, checkpoint, entries, records, droppedBytes: text.length - position }
}
