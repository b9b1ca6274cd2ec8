import { describe, expect, it } from "@effect/vitest"
import * as esbuild from "esbuild"
import * as NodeChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { ShapeKeeper } from "../../../src/services/terminal/ShapeKeeper.js"

const root = NodePath.resolve(import.meta.dirname, "../../..")

/**
 * A program that asks V8 itself (its test natives) whether a function
 * optimized for xterm's row views is still optimized after a full collection
 * that leaves no row view of the throwaway terminal alive: once without and
 * once with a ShapeKeeper. It runs in a process of its own, so nothing of the
 * test runner holds on to the objects.
 */
const PROBE = `
import { Terminal } from "@xterm/headless"
import { ShapeKeeper } from "./src/services/terminal/ShapeKeeper.js"
const optimize = new Function("f", "arg", "%PrepareFunctionForOptimization(f); f(arg); f(arg); %OptimizeFunctionOnNextCall(f); f(arg);")
const status = new Function("f", "return %GetOptimizationStatus(f)")
const TURBOFANNED = 1 << 6
const survives = async () => {
  const read = new Function("row", "return row.isWrapped ? -1 : row.length")
  let terminal = new Terminal({ cols: 20, rows: 4, allowProposedApi: true })
  await new Promise((resolve) => terminal.write("hello\\r\\nworld\\r\\n", resolve))
  optimize(read, terminal.buffer.normal.getLine(0))
  const before = (status(read) & TURBOFANNED) !== 0
  terminal.dispose()
  terminal = null
  await new Promise((resolve) => setTimeout(resolve, 10))
  globalThis.gc()
  return { before, after: (status(read) & TURBOFANNED) !== 0 }
}
const without = await survives()
const keeper = new ShapeKeeper()
await new Promise((resolve) => setTimeout(resolve, 50))
const kept = await survives()
keeper.dispose()
console.log(JSON.stringify({ without, kept }))
`

describe("ShapeKeeper", () => {
  it("keeps the shapes of short-lived xterm objects alive, so code optimized for them survives full collections", async () => {
    const directory = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "tether-shape-keeper-"))
    try {
      const program = NodePath.join(directory, "probe.mjs")
      await esbuild.build({
        stdin: { contents: PROBE, resolveDir: root, loader: "ts" },
        bundle: true,
        platform: "node",
        format: "esm",
        outfile: program,
        logLevel: "error"
      })
      const output = NodeChildProcess.execFileSync(process.execPath, ["--allow-natives-syntax", "--expose-gc", program], {
        encoding: "utf8",
        timeout: 30_000
      })
      const result = JSON.parse(output.trim().split("\n").pop() ?? "{}")
      // The premise: with no object of the shape left, a full collection drops the code made for it.
      expect(result.without).toEqual({ before: true, after: false })
      expect(result.kept).toEqual({ before: true, after: true })
    } finally {
      NodeFs.rmSync(directory, { recursive: true, force: true })
    }
  })

  it("holds a small screen whose scrollback has saved rows", async () => {
    const keeper = new ShapeKeeper()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(keeper.ready).toBe(true)
    const snapshot = keeper.snapshot()
    expect(snapshot).toContain("row 15")
    expect(snapshot.length).toBeLessThan(4096)
    keeper.dispose()
  })
})
