/**
 * Replacing a file so readers see either the old or the new content, never a
 * torn one: write a temporary file in the same directory (created with the
 * final mode), fsync it, rename it over the target, then fsync the directory.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"

export class AtomicWriteError extends Data.TaggedError("AtomicWriteError")<{
  readonly path: string
  readonly cause: unknown
}> {
  override get message(): string {
    return describeFsError(this.cause)
  }
}

/** `EACCES: permission denied` → `permission denied (EACCES)`; anything else as its message. */
export const describeFsError = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code
    const text = cause.message.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*'$/, "")
    return code === undefined ? text : `${text} (${code})`
  }
  return String(cause)
}

/** The name of the temporary file used while writing `path` (hidden, unique per call). */
const tempPathFor = (path: string): string =>
  NodePath.join(
    NodePath.dirname(path),
    `.${NodePath.basename(path)}.${process.pid}.${NodeCrypto.randomBytes(6).toString("hex")}.tmp`
  )

/** Atomically replaces `path` with `content`; the file ends up with `mode` (default 0600). */
export const writeFileAtomic = (
  path: string,
  content: string | Uint8Array,
  options: { readonly mode?: number } = {}
): Effect.Effect<void, AtomicWriteError> =>
  Effect.tryPromise({
    try: async () => {
      const mode = options.mode ?? 0o600
      const temp = tempPathFor(path)
      try {
        const handle = await NodeFs.open(temp, "wx", mode)
        try {
          // The umask may have narrowed the mode; never widen it beyond what was asked for.
          await handle.chmod(mode)
          await handle.writeFile(content)
          await handle.sync()
        } finally {
          await handle.close()
        }
        await NodeFs.rename(temp, path)
      } catch (error) {
        await NodeFs.rm(temp, { force: true }).catch(() => undefined)
        throw error
      }
      await syncDirectory(NodePath.dirname(path))
    },
    catch: (cause) => new AtomicWriteError({ path, cause })
  })

/** Makes the rename durable. Best effort: not every platform can open a directory. */
const syncDirectory = async (dir: string): Promise<void> => {
  if (process.platform === "win32") return
  try {
    const handle = await NodeFs.open(dir, "r")
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // ignored: the data itself is already synced
  }
}
