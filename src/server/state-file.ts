/**
 * `$TETHER_HOME/server.json`: written by a running server once it listens,
 * removed when it stops. `server status|stop` and `server start` read it.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as NodeFs from "node:fs"
import { writeFileAtomic } from "../services/files/atomic-write.js"
import { DatabaseKind } from "../domain/server-info.js"

export const ServerState = Schema.Struct({
  pid: Schema.Int,
  url: Schema.String,
  startedAt: Schema.Number,
  version: Schema.String,
  database: DatabaseKind
})
export type ServerState = typeof ServerState.Type

const decode = Schema.decodeUnknownOption(Schema.parseJson(ServerState))

export const readServerState = (path: string): Effect.Effect<Option.Option<ServerState>> =>
  Effect.sync(() => {
    try {
      return decode(NodeFs.readFileSync(path, "utf8"))
    } catch {
      return Option.none()
    }
  })

export const writeServerState = (path: string, state: ServerState): Effect.Effect<void> =>
  writeFileAtomic(path, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 }).pipe(Effect.orDie)

/** Removes the file only if it still describes this process (a newer server may own it). */
export const removeServerState = (path: string, pid: number): Effect.Effect<void> =>
  Effect.flatMap(readServerState(path), (state) =>
    Effect.sync(() => {
      if (Option.isSome(state) && state.value.pid === pid) NodeFs.rmSync(path, { force: true })
    }))

export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}
