/**
 * Terminal query replies in viewer input. When a program asks the terminal
 * something (cursor position, device attributes, colours, modes …), every
 * attached xterm answers by "typing" the reply. With N viewers the program
 * would get N answers, so the relay keeps replies only from the controller:
 * `stripQueryReplies` removes them from everyone else's input and keeps the
 * keystrokes around them.
 *
 * Recognised replies (all as sent by xterm.js and common terminals):
 * - CSI … R   cursor position report (`ESC [ row ; col R`, also `ESC [ ? row ; col R`)
 * - CSI ? … c / CSI > … c / CSI = … c   primary / secondary / tertiary device attributes
 * - CSI ? … $ y / CSI … $ y   DECRQM mode reports
 * - CSI … t with a leading 1–9 parameter of a report (`ESC [ 8 ; r ; c t`, `4`, `3`, `9` …) window reports
 * - CSI ? … u   kitty keyboard flags report
 * - CSI I / CSI O   focus in / out (each viewer's own focus)
 * - CSI ? … n / CSI … n with 0 or 3 (DSR status replies `ESC [ 0 n`)
 * - OSC 4 / 10 / 11 / 12 / 17 / 19 / 104 … colour replies and any OSC (viewers send no OSC otherwise)
 * - DCS … ST (DECRQSS `ESC P 1 $ r … ST`, XTVERSION `ESC P > | … ST`, XTGETTCAP replies)
 *
 * Keys never look like these: arrow and function keys are `CSI A`…`CSI ~`
 * without `R`, `c`, `y`, `n`, `t`, `u`, `I`, `O` finals — except that a plain
 * `CSI 1;5R` could in principle be a modified F3 on old terminals; xterm.js
 * sends F3 as `ESC O R` / `CSI 1;5R` only with modifiers, a rare loss accepted
 * in exchange for correctness of programs' queries.
 */

const ESC = 0x1b
const BEL = 0x07
const ST_8BIT = 0x9c

/** Finals of CSI sequences that are replies (see the list above). */
const isReplyCsi = (params: string, intermediates: string, final: number): boolean => {
  const char = String.fromCharCode(final)
  if (intermediates === "$" && char === "y") return true
  if (intermediates !== "") return false
  switch (char) {
    case "R":
      return /^\??\d+;\d+$/.test(params)
    case "c":
      return params.startsWith("?") || params.startsWith(">") || params.startsWith("=")
    case "n":
      return params === "0" || params === "3" || params.startsWith("?")
    case "t":
      return /^\d+(;\d+)*$/.test(params) && params.length > 1
    case "u":
      return params.startsWith("?")
    case "I":
    case "O":
      return params === ""
    default:
      return false
  }
}

/** Where an escape sequence starting at `start` (an ESC) ends, and whether it is a reply; null when incomplete. */
const scanSequence = (input: Uint8Array, start: number): { readonly end: number; readonly reply: boolean } | null => {
  const kind = input[start + 1]
  if (kind === undefined) return null
  if (kind === 0x5b) {
    // CSI: parameters 0x30–0x3f, intermediates 0x20–0x2f, final 0x40–0x7e.
    let i = start + 2
    let params = ""
    let intermediates = ""
    while (i < input.length && input[i]! >= 0x30 && input[i]! <= 0x3f) params += String.fromCharCode(input[i++]!)
    while (i < input.length && input[i]! >= 0x20 && input[i]! <= 0x2f) intermediates += String.fromCharCode(input[i++]!)
    if (i >= input.length) return null
    const final = input[i]!
    if (final < 0x40 || final > 0x7e) return { end: i, reply: false }
    return { end: i + 1, reply: isReplyCsi(params, intermediates, final) }
  }
  if (kind === 0x5d || kind === 0x50) {
    // OSC / DCS: up to BEL (OSC) or ST (ESC \ or 0x9c).
    for (let i = start + 2; i < input.length; i++) {
      const byte = input[i]!
      if (byte === BEL && kind === 0x5d) return { end: i + 1, reply: true }
      if (byte === ST_8BIT) return { end: i + 1, reply: true }
      if (byte === ESC && input[i + 1] === 0x5c) return { end: i + 2, reply: true }
    }
    return null
  }
  return { end: start + 1, reply: false }
}

/**
 * `input` without the query replies in it. An escape sequence cut at the end
 * of `input` is kept as is (keys are whole in practice; xterm.js sends each
 * reply in one piece).
 */
export const stripQueryReplies = (input: Uint8Array): Uint8Array => {
  if (input.indexOf(ESC) === -1) return input
  const kept: Array<Uint8Array> = []
  let length = 0
  let from = 0
  let i = input.indexOf(ESC)
  while (i !== -1 && i < input.length) {
    const scanned = scanSequence(input, i)
    if (scanned === null) break
    if (scanned.reply) {
      if (i > from) {
        kept.push(input.subarray(from, i))
        length += i - from
      }
      from = scanned.end
    }
    i = input.indexOf(ESC, Math.max(scanned.end, i + 1))
  }
  if (from === 0) return input
  kept.push(input.subarray(from))
  length += input.length - from
  const out = new Uint8Array(length)
  let position = 0
  for (const part of kept) {
    out.set(part, position)
    position += part.length
  }
  return out
}
