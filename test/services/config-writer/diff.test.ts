/** The unified diff of `--dry-run`: exact output on a known case, and a reconstruction property. */
import { describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { assert } from "vitest"
import { unifiedDiff } from "../../../src/services/config-writer/diff.js"

describe("unifiedDiff", () => {
  it("prints hunks with three lines of context, merging close changes", () => {
    const before = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"].join("\n") + "\n"
    const after = ["a", "b", "C", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"].join("\n") + "\n"
    assert.strictEqual(
      unifiedDiff("/x", before, after),
      [
        "--- a/x",
        "+++ b/x",
        "@@ -1,6 +1,6 @@",
        " a",
        " b",
        "-c",
        "+C",
        " d",
        " e",
        " f",
        "@@ -11,3 +11,4 @@",
        " k",
        " l",
        " m",
        "+n",
        ""
      ].join("\n")
    )
    assert.strictEqual(unifiedDiff("/x", before, before), "")
    assert.strictEqual(unifiedDiff("/new", undefined, "x\n"), "--- /dev/null\n+++ b/new\n@@ -0,0 +1,1 @@\n+x\n")
  })

  it("with whole-file context, the kept and removed lines are the old text and the kept and added lines the new", () =>
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "b", "c", "d"), { maxLength: 30 }),
        fc.array(fc.constantFrom("a", "b", "c", "e"), { maxLength: 30 }),
        (a, b) => {
          const before = a.length === 0 ? "" : a.join("\n") + "\n"
          const after = b.length === 0 ? "" : b.join("\n") + "\n"
          const diff = unifiedDiff("/f", before, after, 1000)
          if (before === after) return assert.strictEqual(diff, "")
          const body = diff.split("\n").slice(3, -1)
          assert.deepStrictEqual(body.filter((l) => !l.startsWith("+")).map((l) => l.slice(1)), a)
          assert.deepStrictEqual(body.filter((l) => !l.startsWith("-")).map((l) => l.slice(1)), b)
        }
      ),
      { numRuns: 300 }
    ))
})
