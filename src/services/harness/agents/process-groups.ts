/**
 * The agent processes a session started, each in a process group of its own,
 * so that stopping the session reaches everything they started (shells,
 * tools, language servers) and not just the process the SDK knows about.
 *
 * `spawnDetached` starts a process as the leader of a new group and records
 * it; `terminate` sends SIGTERM to every recorded group, waits up to the
 * grace period for the groups to empty, then SIGKILLs what is left and waits
 * for it. Processes that moved to a session of their own escape (as with the
 * shell harness).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"

/** On Linux: whether the group has a member that is not a zombie (a zombie runs nothing). */
const hasLiveMember = (pgid: number): boolean => {
  let names: ReadonlyArray<string>
  try {
    names = readdirSync("/proc")
  } catch {
    return true // no /proc (macOS): trust kill(0)
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8")
      // The command name may contain spaces and parentheses: the fields start after the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true
    } catch {
      // gone meanwhile
    }
  }
  return false
}

/** Whether any process of the group led by `pgid` still runs. */
export const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
  } catch {
    // ESRCH: gone. EPERM: not ours any more (the id was reused).
    return false
  }
  return hasLiveMember(pgid)
}

const signalGroup = (pgid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(-pgid, signal)
  } catch {
    // ESRCH: the group is gone.
  }
}

export class ProcessGroups {
  private readonly groups = new Set<number>()

  /** The process-group ids recorded so far (for tests and diagnostics). */
  get ids(): ReadonlyArray<number> {
    return [...this.groups]
  }

  /** Spawns `command` as the leader of a new process group and records the group. */
  spawnDetached(command: string, args: ReadonlyArray<string>, options: SpawnOptions): ChildProcess {
    const child = spawn(command, [...args], { ...options, detached: true })
    if (child.pid !== undefined) this.track(child.pid)
    // A failed spawn is reported by the caller's own 'error' listener; never crash the runner.
    child.on("error", () => {})
    return child
  }

  /** Records a process group started elsewhere (its leader's pid). */
  track(pgid: number): void {
    this.groups.add(pgid)
  }

  /** Sends `signal` to every recorded group that is still there. */
  signalAll(signal: NodeJS.Signals): void {
    for (const pgid of this.groups) signalGroup(pgid, signal)
  }

  /** SIGTERM, wait up to `grace`, SIGKILL, wait until every group is gone (bounded). */
  terminate(grace: Duration.DurationInput): Effect.Effect<void> {
    const self = this
    return Effect.gen(function*() {
      const alive = () => [...self.groups].filter(groupAlive)
      if (alive().length === 0) return
      self.signalAll("SIGTERM")
      const deadline = Date.now() + Duration.toMillis(Duration.decode(grace))
      while (alive().length > 0 && Date.now() < deadline) yield* Effect.sleep("25 millis")
      for (const pgid of alive()) signalGroup(pgid, "SIGKILL")
      const killDeadline = Date.now() + 2_000
      while (alive().length > 0 && Date.now() < killDeadline) yield* Effect.sleep("10 millis")
    }).pipe(Effect.withSpan("ProcessGroups.terminate"))
  }
}
