/**
 * Where Tether keeps its files on this machine: `TETHER_HOME`, default `~/.tether`.
 * Created on first use with mode 0700.
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"

export class TetherHome extends Effect.Service<TetherHome>()("tether/TetherHome", {
  effect: Effect.gen(function*() {
    const configured = yield* Config.string("TETHER_HOME").pipe(Config.option)
    const dir = NodePath.resolve(
      configured._tag === "Some" && configured.value.trim() !== ""
        ? configured.value
        : NodePath.join(NodeOs.homedir(), ".tether")
    )
    const ensure: Effect.Effect<string> = Effect.sync(() => {
      NodeFs.mkdirSync(dir, { recursive: true, mode: 0o700 })
      return dir
    })
    return {
      dir,
      /** Creates the directory (0700) if missing and returns it. */
      ensure,
      path: (...segments: ReadonlyArray<string>): string => NodePath.join(dir, ...segments)
    } as const
  })
}) {
  static fixed = (dir: string): Layer.Layer<TetherHome> =>
    Layer.succeed(
      TetherHome,
      TetherHome.make({
        dir,
        ensure: Effect.sync(() => {
          NodeFs.mkdirSync(dir, { recursive: true, mode: 0o700 })
          return dir
        }),
        path: (...segments) => NodePath.join(dir, ...segments)
      })
    )
}
