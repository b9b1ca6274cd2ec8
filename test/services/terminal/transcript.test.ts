/**
 * Transcript: what is appended within a few milliseconds goes to disk in one
 * write (one `onStored` per write), nothing
 * appended before `close` is lost, and gaps start new segments at the right
 * file positions.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Transcript } from "../../../src/services/terminal/Transcript.js"

const dir = () => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "tether-transcript-"))
const text = (s: string) => new TextEncoder().encode(s)
const until = async (what: string, check: () => boolean) => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5))
  if (!check()) throw new Error(`timed out waiting for ${what}`)
}

describe("Transcript", () => {
  it("appends made in one turn are stored together, at the end of that turn", async () => {
    const transcript = Transcript.open(dir(), "ses_turn")
    const stored: Array<number> = []
    transcript.onStored((end) => stored.push(end))
    transcript.append(text("one "))
    transcript.append(text("two "))
    transcript.append(text("three"))
    expect(transcript.end).toBe(0) // nothing written synchronously
    await until("the write", () => stored.length > 0)
    expect(stored).toEqual([13])
    transcript.append(text("!"))
    await until("the second write", () => stored.length > 1)
    expect(stored).toEqual([13, 14])
    transcript.close()
  })

  it("appends over several turns within the batching delay share one write", async () => {
    const transcript = Transcript.open(dir(), "ses_batch")
    const stored: Array<number> = []
    transcript.onStored((end) => stored.push(end))
    transcript.append(text("a"))
    await new Promise((r) => setImmediate(r))
    transcript.append(text("b"))
    await new Promise((r) => setImmediate(r))
    transcript.append(text("c"))
    expect(transcript.end).toBe(0)
    await until("the write", () => stored.length > 0)
    expect(stored).toEqual([3])
    transcript.append(new Uint8Array(512 * 1024))
    await new Promise((r) => setImmediate(r))
    await new Promise((r) => setImmediate(r))
    await until("the big write", () => stored.length > 1)
    expect(stored).toEqual([3, 3 + 512 * 1024])
    transcript.close()
  })

  it("close right after appending still writes everything, then closes", async () => {
    const directory = dir()
    const transcript = Transcript.open(directory, "ses_close")
    transcript.append(text("last words"))
    transcript.close()
    transcript.append(text(" (after close: dropped)"))
    const path = NodePath.join(directory, "ses_close.out")
    await until("the file", () => NodeFs.readFileSync(path, "utf8") === "last words")
    await until("the close", () => (transcript as unknown as { fd: number | null }).fd === null)
    const reopened = Transcript.open(directory, "ses_close")
    expect(reopened.end).toBe(10)
    reopened.close()
  })

  it("a gap in the same turn as output starts a new segment where the output ends", async () => {
    const directory = dir()
    const transcript = Transcript.open(directory, "ses_gap")
    transcript.append(text("abc"))
    transcript.gap(100)
    transcript.append(text("xyz"))
    await until("both writes", () => transcript.end === 103)
    transcript.close()
    const reopened = Transcript.open(directory, "ses_gap")
    expect(reopened.end).toBe(103)
    expect(new TextDecoder().decode(reopened.tail(10).data)).toBe("xyz")
    expect(JSON.parse(NodeFs.readFileSync(NodePath.join(directory, "ses_gap.idx"), "utf8"))).toEqual({
      segments: [{ offset: 0, position: 0 }, { offset: 100, position: 3 }]
    })
    reopened.close()
  })
})
