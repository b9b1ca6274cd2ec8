/**
 * The terminal harness's own access to a PTY's master (`ptyMaster`): reading
 * what the PTY holds at once (so fast output leaves in large frames), writing
 * keystrokes on the calling thread, pastes larger than the PTY's input
 * buffer delivered whole and in order, and node-pty alone where the master
 * cannot be used.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { IPty } from "node-pty"
import { ptyMaster, PTY_DRAIN_BYTES } from "../../src/services/harness/terminal.js"

const pty = await import("node-pty")
const spawn = (script: string): IPty =>
  pty.spawn("sh", ["-c", script], { name: "xterm-256color", cols: 80, rows: 24, cwd: NodeOs.tmpdir(), env: process.env, encoding: null })
const until = async (what: string, check: () => boolean, ms = 5000) => {
  for (let i = 0; i < ms / 10 && !check(); i++) await new Promise((r) => setTimeout(r, 10))
  if (!check()) throw new Error(`timed out waiting for ${what}`)
}
const linux = process.platform === "linux"

describe("ptyMaster", () => {
  it.runIf(linux)("read returns what the PTY holds right now (more than one 4 KiB read), then null; no byte twice", async () => {
    const child = spawn("stty raw -echo; printf R; read go; head -c 200000 /dev/zero | tr '\\0' x; sleep 5")
    try {
      const master = ptyMaster(child)
      let fromPty = 0
      child.onData((data) => {
        fromPty += data.length
      })
      await until("the program", () => fromPty >= 1)
      child.pause() // node-pty stops reading: the output stays in the PTY
      fromPty = 0
      child.write("\n") // raw mode: no CR → NL translation
      await new Promise((r) => setTimeout(r, 300))
      const first = master.read()
      expect(first).not.toBeNull()
      expect(first!.length).toBeGreaterThan(4096)
      expect(first!.length).toBeLessThanOrEqual(PTY_DRAIN_BYTES)
      expect(first!.every((b) => b === 0x78)).toBe(true)
      // node-pty's paused stream read ahead a little; with that, every byte is read exactly once.
      let total = first!.length
      let idle = 0
      while (idle < 10) {
        await new Promise((r) => setTimeout(r, 20))
        const more = master.read()?.length ?? 0
        total += more
        idle = more === 0 ? idle + 1 : 0
      }
      expect(master.read()).toBeNull()
      child.resume()
      await until("node-pty's read-ahead", () => total + fromPty >= 200_000)
      await new Promise((r) => setTimeout(r, 50))
      expect(total + fromPty).toBe(200_000)
      expect(fromPty).toBeLessThanOrEqual(64 * 1024)
    } finally {
      child.kill("SIGKILL")
    }
  })

  it.runIf(linux)("write delivers keystrokes, and a paste far larger than the PTY's buffer whole and in order", async () => {
    const directory = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "tether-pty-master-"))
    const out = NodePath.join(directory, "pasted")
    const child = spawn(`stty raw -echo; printf R; sleep 0.3; head -c 300001 > ${out}; printf D`)
    try {
      const master = ptyMaster(child)
      let seen = ""
      child.onData((data) => {
        seen += data.toString()
      })
      await until("the program", () => seen.includes("R"))
      const paste = Uint8Array.from({ length: 300_000 }, (_, i) => 0x61 + (i % 26))
      master.write(paste.subarray(0, 100_000))
      master.write(paste.subarray(100_000))
      master.write("!")
      await until("the paste", () => seen.includes("D"), 10_000)
      const written = NodeFs.readFileSync(out)
      expect(written.length).toBe(300_001)
      expect(written.subarray(0, 300_000).equals(Buffer.from(paste))).toBe(true)
      expect(written[300_000]).toBe(0x21)
    } finally {
      child.kill("SIGKILL")
    }
  })

  it("without a usable master (no fd), reads find nothing and writes go through node-pty", () => {
    const written: Array<string> = []
    const master = ptyMaster({ write: (data: string | Buffer) => written.push(data.toString()) })
    expect(master.read()).toBeNull()
    master.write("ls\r")
    master.write(new TextEncoder().encode("pwd\r"))
    expect(written).toEqual(["ls\r", "pwd\r"])
  })
})

describe("terminal harness: output left in the PTY when the program exits", () => {
  it.runIf(linux)("a program that finishes while the relay's buffer is full loses nothing: every byte before EXIT, none after", async () => {
    const { Effect, Exit, Scope } = await import("effect")
    const { makeTerminalHarness } = await import("../../src/services/harness/terminal.js")
    const total = 3_000_000
    const written: Array<number> = []
    let late = 0
    let exited: number | null | undefined
    const writable: Array<() => void> = []
    let held = 0
    const channel = {
      // Full after 64 KiB until long after the program is gone (a server far behind).
      write: (data: Uint8Array) => {
        if (exited !== undefined) late += data.length
        else written.push(data.length)
        held += data.length
        return held < 64 * 1024
      },
      onWritable: (listener: () => void) => writable.push(listener),
      onInput: () => {},
      onResize: () => {},
      exit: (code: number | null) => {
        exited = code
      }
    }
    const scope = Effect.runSync(Scope.make())
    const running = await Effect.runPromise(
      makeTerminalHarness().start({
        sessionId: "ses_full",
        cwd: NodeOs.tmpdir(),
        args: ["sh", "-c", `head -c ${total} /dev/zero | tr '\\0' y`],
        prompt: null,
        emit: () => Effect.void,
        terminal: { open: () => Effect.succeed(channel) }
      }).pipe(Scope.extend(scope))
    )
    // The program writes until the PTY is full, then blocks; let it go only after a while.
    await new Promise((r) => setTimeout(r, 300))
    const release = setInterval(() => {
      held = 0
      for (const listener of writable) listener()
    }, 20)
    try {
      await Effect.runPromise(running.exited)
      await until("EXIT", () => exited !== undefined, 10_000)
      expect(written.reduce((a, b) => a + b, 0)).toBe(total)
      expect(late).toBe(0)
      expect(exited).toBe(0)
    } finally {
      clearInterval(release)
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }, 30_000)
})
