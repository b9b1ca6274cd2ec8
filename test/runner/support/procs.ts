/** Process inspection for tests (Linux /proc). Zombies count as gone: nothing runs in them. */
import { readdirSync, readFileSync } from "node:fs"

interface ProcStat {
  readonly pid: number
  readonly state: string
  readonly pgrp: number
}

const readStat = (pid: number): ProcStat | undefined => {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name is in parentheses and may contain spaces: parse after the last ")".
    const fields = raw.slice(raw.lastIndexOf(")") + 2).split(" ")
    return { pid, state: fields[0] ?? "?", pgrp: Number(fields[2]) }
  } catch {
    return undefined
  }
}

/** Whether the process exists and is not a zombie. */
export const isRunning = (pid: number): boolean => {
  const stat = readStat(pid)
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X"
}

/** The running (non-zombie) processes of a process group. */
export const runningGroupMembers = (pgrp: number): ReadonlyArray<number> =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter((stat): stat is ProcStat => stat !== undefined && stat.pgrp === pgrp && stat.state !== "Z" && stat.state !== "X")
    .map((stat) => stat.pid)
