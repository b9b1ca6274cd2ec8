import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { stripQueryReplies } from "../../src/domain/terminal-replies.js"

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array) => new TextDecoder().decode(data)
const strip = (input: string) => text(stripQueryReplies(bytes(input)))

describe("stripQueryReplies", () => {
  it("removes what terminals answer to queries and keeps the keys around them", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["\x1b[12;40R", ""], // cursor position report
      ["\x1b[?12;40R", ""], // DECXCPR
      ["a\x1b[?62;22cb", "ab"], // primary device attributes
      ["\x1b[>0;276;0c", ""], // secondary device attributes
      ["\x1b[?2004;1$y", ""], // DECRQM
      ["\x1b[0n", ""], // device status OK
      ["\x1b[8;24;80t", ""], // window size report
      ["\x1b[?1u", ""], // kitty keyboard flags
      ["\x1b[I\x1b[O", ""], // focus in / out
      ["\x1b]11;rgb:0000/0000/0000\x07", ""], // OSC colour reply, BEL
      ["\x1b]10;rgb:ffff/ffff/ffff\x1b\\", ""], // OSC colour reply, ST
      ["\x1bP>|xterm.js(6.0.0)\x1b\\", ""], // XTVERSION
      ["\x1bP1$r0m\x1b\\ls\r", "ls\r"] // DECRQSS, then typing
    ]
    for (const [input, expected] of cases) assert.strictEqual(strip(input), expected, JSON.stringify(input))
  })

  it("leaves keys alone: arrows, function keys, alt-letters, SS3, bracketed paste, plain text", () => {
    for (const key of ["\x1b[A", "\x1b[1;5C", "\x1b[15~", "\x1bOP", "\x1bOR", "\x1bb", "\x1b", "\x1b[200~pasted\x1b[201~", "hello\r", "\x03", "\x1b[Z"]) {
      assert.strictEqual(strip(key), key, JSON.stringify(key))
    }
  })

  it.prop("text without ESC is returned as is (the same buffer)", [fc.uint8Array({ maxLength: 200 }).map((a) => a.filter((b) => b !== 0x1b))], ([input]) => {
    assert.strictEqual(stripQueryReplies(input), input)
  })

  it.prop("never adds bytes and never throws on arbitrary input", [fc.uint8Array({ maxLength: 300 })], ([input]) => {
    const out = stripQueryReplies(input)
    assert.isAtMost(out.length, input.length)
  })
})
