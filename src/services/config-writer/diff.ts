/**
 * A unified diff (`diff -u` style, 3 lines of context) of two texts, for
 * `--dry-run`. Line-based LCS: config files are small. Pure.
 */

type Op = { readonly kind: " " | "-" | "+"; readonly line: string }

const splitLines = (text: string): ReadonlyArray<string> => (text === "" ? [] : text.replace(/\n$/, "").split("\n"))

const diffOps = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): ReadonlyArray<Op> => {
  const n = a.length
  const m = b.length
  // lcs[i][j] = length of the LCS of a[i..] and b[j..]
  const lcs: Array<Uint32Array> = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1))
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as Uint32Array
    const below = lcs[i + 1] as Uint32Array
    for (let j = m - 1; j >= 0; j--) {
      row[j] = a[i] === b[j] ? (below[j + 1] as number) + 1 : Math.max(below[j] as number, row[j + 1] as number)
    }
  }
  const ops: Array<Op> = []
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ kind: " ", line: a[i] as string })
      i++
      j++
    } else if ((lcs[i + 1] as Uint32Array)[j]! >= (lcs[i] as Uint32Array)[j + 1]!) {
      ops.push({ kind: "-", line: a[i++] as string })
    } else {
      ops.push({ kind: "+", line: b[j++] as string })
    }
  }
  while (i < n) ops.push({ kind: "-", line: a[i++] as string })
  while (j < m) ops.push({ kind: "+", line: b[j++] as string })
  return ops
}

/**
 * `--- a/path` / `+++ b/path` and hunks; empty string when equal. A missing
 * old file is diffed from `/dev/null`.
 */
export const unifiedDiff = (path: string, before: string | undefined, after: string, context = 3): string => {
  if (before === after) return ""
  const ops = diffOps(splitLines(before ?? ""), splitLines(after))
  const changed = ops.map((op) => op.kind !== " ")
  const lines: Array<string> = [`--- ${before === undefined ? "/dev/null" : `a${path}`}`, `+++ b${path}`]
  let k = 0
  while (k < ops.length) {
    if (!changed[k]) {
      k++
      continue
    }
    // A hunk: from `context` lines before the first change to `context` after the last change
    // that is within 2*context of the next one.
    const start = Math.max(0, k - context)
    let end = k
    while (end < ops.length) {
      let next = end
      while (next < ops.length && changed[next]) next++
      let gap = next
      while (gap < ops.length && !changed[gap]) gap++
      if (gap < ops.length && gap - next <= 2 * context) end = gap
      else {
        end = Math.min(ops.length, next + context)
        break
      }
    }
    let oldStart = 1
    let newStart = 1
    for (let x = 0; x < start; x++) {
      if (ops[x]!.kind !== "+") oldStart++
      if (ops[x]!.kind !== "-") newStart++
    }
    const hunk = ops.slice(start, end)
    const oldCount = hunk.filter((o) => o.kind !== "+").length
    const newCount = hunk.filter((o) => o.kind !== "-").length
    lines.push(`@@ -${oldCount === 0 ? oldStart - 1 : oldStart},${oldCount} +${newCount === 0 ? newStart - 1 : newStart},${newCount} @@`)
    for (const op of hunk) lines.push(`${op.kind}${op.line}`)
    k = end
  }
  return `${lines.join("\n")}\n`
}
