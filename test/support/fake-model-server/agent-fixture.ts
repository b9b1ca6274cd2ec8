/**
 * Helpers for the agent-harness tests that run a real SDK against the fake
 * model server: a scratch workspace with a file to read, the processes this
 * test process started (to prove a stopped session left nothing behind), and
 * a `HarnessStartSpec` builder.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { SessionEvent } from "../../../src/domain/session-event.js"
import type { HarnessStartSpec } from "../../../src/services/harness/Harness.js"
import * as Effect from "effect/Effect"
import type { TerminalChannelFactory } from "../../../src/services/terminal/TerminalChannel.js"

export interface Workspace {
  readonly dir: string
  /** A second scratch directory (agent config homes, state). */
  readonly home: string
  readonly notesPath: string
  readonly notes: string
  cleanup(): void
}

export const makeWorkspace = (prefix: string): Workspace => {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-work-`))
  const home = mkdtempSync(join(tmpdir(), `${prefix}-home-`))
  const notes = "the secret word is marmalade\n"
  const notesPath = join(dir, "notes.txt")
  writeFileSync(notesPath, notes)
  return {
    dir,
    home,
    notesPath,
    notes,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true })
      rmSync(home, { recursive: true, force: true })
    }
  }
}

/** The SDK harnesses never open a terminal: a factory that would only swallow bytes. */
const noTerminals: TerminalChannelFactory = {
  open: () =>
    Effect.succeed({
      write: () => true,
      onWritable: () => {},
      onInput: () => {},
      onResize: () => {},
      exit: () => {}
    })
}

interface Proc {
  readonly pid: number
  readonly ppid: number
  readonly state: string
}

const processes = (): ReadonlyArray<Proc> =>
  readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((name) => {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return [{ pid: Number(name), state: fields[0] ?? "?", ppid: Number(fields[1]) }]
    } catch {
      return []
    }
  })

/** The running (non-zombie) descendants of `root` (default: this process). */
export const liveDescendants = (root: number = process.pid): ReadonlyArray<number> => {
  const all = processes()
  const found: Array<number> = []
  const frontier = [root]
  while (frontier.length > 0) {
    const parent = frontier.pop()
    for (const proc of all) {
      if (proc.ppid === parent) {
        frontier.push(proc.pid)
        if (proc.state !== "Z" && proc.state !== "X") found.push(proc.pid)
      }
    }
  }
  return found
}

export const startSpec = (
  workspace: Workspace,
  args: ReadonlyArray<string>,
  emit: HarnessStartSpec["emit"],
  extra: { readonly prompt?: string | null; readonly resumeId?: string | null; readonly sessionId?: string } = {}
): HarnessStartSpec => ({
  sessionId: extra.sessionId ?? "ses_test",
  cwd: workspace.dir,
  args,
  prompt: extra.prompt ?? null,
  emit,
  terminal: noTerminals,
  ...(extra.resumeId === undefined ? {} : { resumeId: extra.resumeId })
})

/** The status events as `status:reason`. */
export const statusTrail = (events: ReadonlyArray<SessionEvent>): ReadonlyArray<string> =>
  events.flatMap((e) => (e.type === "status" ? [`${e.status}:${e.reason ?? ""}`] : []))

/** Whether any request the server recorded mentions `text` in its body. */
export const bodyMentions = (body: unknown, text: string): boolean => JSON.stringify(body ?? null).includes(text)
