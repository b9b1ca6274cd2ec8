/**
 * A launcher for SDKs that spawn their agent process themselves (the Codex
 * SDK takes only a path to run): a small Node script, written to a private
 * temporary directory for the session, that starts the real command as the
 * leader of a new process group, appends the group id to a pid file, and
 * forwards SIGTERM/SIGINT/SIGHUP to the whole group. The harness reads the
 * pid file so that stopping the session can terminate every group the SDK
 * started, children of the agent included.
 *
 * The directory (script and pid file) is removed when the scope closes.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { ProcessGroups } from "./process-groups.js"

export interface GroupLauncher {
  /** The executable to hand to the SDK. */
  readonly path: string
  /** Environment variables the launcher needs (merge into the SDK's environment). */
  readonly env: Readonly<Record<string, string>>
  /** Records every group the launcher started so far in `groups`. */
  readonly collect: (groups: ProcessGroups) => void
}

const script = (node: string) =>
  `#!${node}
"use strict"
// Written by Tether: runs TETHER_GROUP_COMMAND (a JSON array) plus this script's
// arguments as the leader of a new process group, records the group id in
// TETHER_GROUP_PIDFILE and forwards termination signals to the whole group.
const { spawn } = require("node:child_process")
const { appendFileSync } = require("node:fs")
const command = JSON.parse(process.env.TETHER_GROUP_COMMAND || "[]")
const child = spawn(command[0], [...command.slice(1), ...process.argv.slice(2)], { stdio: "inherit", detached: true })
child.on("error", (error) => {
  process.stderr.write("tether launcher: " + error.message + "\\n")
  process.exit(127)
})
if (child.pid !== undefined) appendFileSync(process.env.TETHER_GROUP_PIDFILE, child.pid + "\\n")
const forward = (signal) => {
  try { process.kill(-child.pid, signal) } catch {}
}
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, () => forward(signal))
child.on("exit", (code, signal) => process.exit(code === null ? 128 + (signal === "SIGKILL" ? 9 : 15) : code))
`

export const makeGroupLauncher = (command: ReadonlyArray<string>): Effect.Effect<GroupLauncher, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "tether-launch-"))
      const path = join(dir, "launch.cjs")
      const pidFile = join(dir, "groups")
      writeFileSync(path, script(process.execPath), { mode: 0o700 })
      chmodSync(path, 0o700)
      writeFileSync(pidFile, "", { mode: 0o600 })
      const launcher: GroupLauncher = {
        path,
        env: { TETHER_GROUP_COMMAND: JSON.stringify(command), TETHER_GROUP_PIDFILE: pidFile },
        collect: (groups) => {
          let text = ""
          try {
            text = readFileSync(pidFile, "utf8")
          } catch {
            return
          }
          for (const line of text.split("\n")) {
            const pid = Number(line)
            if (Number.isInteger(pid) && pid > 0) groups.track(pid)
          }
        }
      }
      return { dir, launcher }
    }),
    ({ dir }) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.map(({ launcher }) => launcher))
