/**
 * MasterKey: the server's key for secrets at rest (provider API keys).
 *
 * Source, chosen while the layer is built:
 * - `TETHER_MASTER_KEY` (64 hex digits or base64 of 32 bytes), or else
 * - `$TETHER_HOME/master.key`, created on first use with mode 0600 (exclusive
 *   create via a hard link, so two processes never end up with two keys).
 *   A file readable by others is refused rather than used.
 *
 * The file is only read or created when a secret is first sealed or opened,
 * so a server that never stores a provider key never creates one. Losing the
 * key makes stored provider keys unreadable (re-add the providers).
 */
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { TetherHome } from "../home/TetherHome.js"
import { generateMasterKey, open, parseMasterKey, seal, type SealedValueUnreadable } from "./cipher.js"

export const MASTER_KEY_FILE = "master.key"

/** The master key cannot be loaded or created (bad variable, unreadable or unsafe file). */
export class MasterKeyUnavailable extends Data.TaggedError("MasterKeyUnavailable")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

const describe = (error: unknown): string =>
  error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error)

/** Reads the key file, creating it (0600, exclusively) when missing. */
const loadOrCreateFile = (path: string): Either.Either<Uint8Array, MasterKeyUnavailable> => {
  const fail = (reason: string) => Either.left(new MasterKeyUnavailable({ reason }))
  try {
    if (!NodeFs.existsSync(path)) {
      NodeFs.mkdirSync(NodePath.dirname(path), { recursive: true, mode: 0o700 })
      const temp = `${path}.${process.pid}.${NodeCrypto.randomBytes(6).toString("hex")}.tmp`
      NodeFs.writeFileSync(temp, `${Buffer.from(generateMasterKey()).toString("base64")}\n`, { mode: 0o600, flag: "wx" })
      try {
        NodeFs.linkSync(temp, path) // fails with EEXIST if another process won the race: use theirs
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
      } finally {
        NodeFs.rmSync(temp, { force: true })
      }
    }
    const mode = NodeFs.statSync(path).mode & 0o777
    if ((mode & 0o077) !== 0) {
      return fail(`${path} is readable by other users (mode ${mode.toString(8)}); run \`chmod 600 ${path}\``)
    }
    return Either.mapLeft(parseMasterKey(NodeFs.readFileSync(path, "utf8")), (reason) =>
      new MasterKeyUnavailable({ reason: `${path}: ${reason}` }))
  } catch (error) {
    return fail(`cannot read or create the master key ${path}: ${describe(error)}`)
  }
}

export class MasterKey extends Effect.Service<MasterKey>()("tether/MasterKey", {
  effect: Effect.gen(function*() {
    const configured = yield* Config.redacted("TETHER_MASTER_KEY").pipe(
      Config.option,
      Config.map(Option.filter((key) => Redacted.value(key).trim() !== ""))
    )
    const home = yield* TetherHome
    const key: Effect.Effect<Uint8Array, MasterKeyUnavailable> = yield* Effect.cached(
      Option.match(configured, {
        onSome: (text) =>
          Either.match(parseMasterKey(Redacted.value(text)), {
            onLeft: (reason) => Effect.fail(new MasterKeyUnavailable({ reason: `TETHER_MASTER_KEY: ${reason}` })),
            onRight: Effect.succeed
          }),
        onNone: () => Effect.suspend(() => loadOrCreateFile(home.path(MASTER_KEY_FILE)))
      })
    )

    /** Encrypts `plaintext`, bound to `associatedData` (where it is stored). */
    const sealSecret = Effect.fn("MasterKey.seal")(
      function*(plaintext: Redacted.Redacted<string>, associatedData: string): Effect.fn.Return<string, MasterKeyUnavailable> {
        return seal(yield* key, Redacted.value(plaintext), associatedData)
      }
    )

    const openSecret = Effect.fn("MasterKey.open")(
      function*(
        sealed: string,
        associatedData: string
      ): Effect.fn.Return<Redacted.Redacted<string>, MasterKeyUnavailable | SealedValueUnreadable> {
        const opened = open(yield* key, sealed, associatedData)
        if (Either.isLeft(opened)) return yield* opened.left
        return Redacted.make(opened.right)
      }
    )

    return { seal: sealSecret, open: openSecret } as const
  })
}) {
  /** A fixed key (tests). */
  static fixed = (key: Uint8Array): Layer.Layer<MasterKey> =>
    Layer.succeed(
      MasterKey,
      MasterKey.make({
        seal: (plaintext, associatedData) => Effect.sync(() => seal(key, Redacted.value(plaintext), associatedData)),
        open: (sealed, associatedData) =>
          Either.match(open(key, sealed, associatedData), {
            onLeft: (error) => Effect.fail(error),
            onRight: (text) => Effect.succeed(Redacted.make(text))
          })
      })
    )
}
