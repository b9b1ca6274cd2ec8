/**
 * The CLI's saved contexts (server URL + access token), kept in
 * `$TETHER_HOME/config.json` (format: src/domain/context-file.ts,
 * docs/config-file.md).
 *
 * - `default` (http://localhost:7337) always exists, even without a file, and
 *   cannot be removed or renamed.
 * - The file is 0600. A looser one is tightened, with a warning on stderr.
 * - Writes are atomic (temp file + fsync + rename) and serialised within the
 *   process. A corrupt file is reported with its path and never overwritten.
 * - Keys this version does not know survive read-modify-write.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import {
  CONTEXT_FILE_NAME,
  type ContextEntry,
  ContextExists,
  type ContextFile,
  ContextFileCorrupt,
  ContextFileIoError,
  contextNameProblem,
  ContextNotFound,
  DEFAULT_CONTEXT_NAME,
  decodeContextFile,
  defaultContextEntry,
  DefaultContextProtected,
  emptyContextFile,
  encodeContextFile,
  InvalidContextName,
  stripSecrets,
  withDefaultContext
} from "../../domain/context-file.js"
import { type InvalidServerAddress, parseServerAddress } from "../../domain/server-url.js"
import { TetherHome } from "../home/TetherHome.js"
import { describeFsError, writeFileAtomic } from "../files/atomic-write.js"

/** A context with its name, and whether it is the active one. */
export interface NamedContext {
  readonly name: string
  readonly context: ContextEntry
  readonly active: boolean
}

export interface UpsertOptions {
  /** Make it the current context too. Default false. */
  readonly activate?: boolean | undefined
  /** Replace an existing context of that name. Default true; false fails with `ContextExists`. */
  readonly overwrite?: boolean | undefined
}

export interface ImportOptions {
  /**
   * true: add the imported contexts, replacing same-named ones; the current
   * context stays. false: the imported contexts replace all others (`default`
   * is kept unless the import defines it) and the import's current context
   * becomes current when it exists.
   */
  readonly merge: boolean
  /** Where the content came from, for error messages (a path). */
  readonly source?: string | undefined
}

export interface ImportResult {
  /** Names of the contexts taken from the import, in file order. */
  readonly imported: ReadonlyArray<string>
  readonly currentContext: string
}

export interface RemoveResult {
  readonly removed: NamedContext
  /** The current context afterwards (`default` when the removed one was active). */
  readonly currentContext: string
}

/** Failures of reading the file. */
export type ContextFileError = ContextFileCorrupt | ContextFileIoError

const isPermissionCheckSupported = process.platform !== "win32"

const errnoCode = (cause: unknown): string | undefined =>
  cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined

const sortedNames = (file: ContextFile): Array<string> => Object.keys(file.contexts).sort()

const named = (file: ContextFile, name: string, context: ContextEntry): NamedContext => ({
  name,
  context,
  active: file.currentContext === name
})

const lookup = (file: ContextFile, name: string): Option.Option<ContextEntry> =>
  Object.hasOwn(file.contexts, name) ? Option.fromNullable(file.contexts[name]) : Option.none()

export class ContextRepo extends Effect.Service<ContextRepo>()("tether/ContextRepo", {
  dependencies: [TetherHome.Default],
  effect: Effect.gen(function*() {
    const home = yield* TetherHome
    const path = home.path(CONTEXT_FILE_NAME)
    const writeLock = yield* Effect.makeSemaphore(1)

    const ioError = (operation: "read" | "write") => (cause: unknown) =>
      new ContextFileIoError({ path, operation, error: describeFsError(cause) })

    /** Tightens a file others can access to 0600, saying so on stderr. */
    const secure: Effect.Effect<void, ContextFileIoError> = Effect.gen(function*() {
      if (!isPermissionCheckSupported) return
      const stat = yield* Effect.tryPromise({ try: () => NodeFs.stat(path), catch: ioError("read") })
      const mode = stat.mode & 0o777
      if ((mode & 0o077) === 0) return
      yield* Effect.tryPromise({ try: () => NodeFs.chmod(path, 0o600), catch: ioError("write") })
      yield* Console.error(
        `warning: ${path} was accessible to other users (mode 0${mode.toString(8)}); ` +
          "changed it to 0600. Consider rotating the tokens it holds."
      )
    })

    /** The text of the file, or none when it does not exist. */
    const readText: Effect.Effect<Option.Option<string>, ContextFileIoError> = Effect.tryPromise({
      try: () => NodeFs.readFile(path, "utf8"),
      catch: (cause) => cause
    }).pipe(
      Effect.map(Option.some),
      Effect.catchAll((cause) =>
        errnoCode(cause) === "ENOENT" ? Effect.succeed(Option.none()) : Effect.fail(ioError("read")(cause))
      )
    )

    const load: Effect.Effect<ContextFile, ContextFileError> = Effect.gen(function*() {
      const text = yield* readText
      if (Option.isNone(text)) return emptyContextFile
      // Permissions first: a corrupt file may still hold tokens.
      yield* secure
      const decoded = decodeContextFile(text.value)
      if (Either.isLeft(decoded)) return yield* new ContextFileCorrupt({ path, error: decoded.left })
      return withDefaultContext(decoded.right)
    }).pipe(Effect.withSpan("ContextRepo.load"))

    const save = (file: ContextFile): Effect.Effect<void, ContextFileIoError> =>
      Effect.gen(function*() {
        yield* home.ensure
        // A symlinked config.json (dotfile managers) stays a symlink: replace the file it points to.
        const target = yield* Effect.promise(() => NodeFs.realpath(path).catch(() => path))
        yield* writeFileAtomic(target, encodeContextFile(file), { mode: 0o600 }).pipe(
          Effect.mapError((e) => ioError("write")(e.cause))
        )
      })

    /** Read, change, write, one writer at a time. */
    const modify = <A, E>(
      change: (file: ContextFile) => Effect.Effect<readonly [A, ContextFile], E>
    ): Effect.Effect<A, E | ContextFileError> =>
      writeLock.withPermits(1)(
        Effect.gen(function*() {
          const file = yield* load
          const [result, next] = yield* change(file)
          yield* save(next)
          return result
        })
      )

    const checkName = (name: string): Effect.Effect<void, InvalidContextName> => {
      const problem = contextNameProblem(name)
      return problem === undefined ? Effect.void : Effect.fail(new InvalidContextName({ name, error: problem }))
    }

    const find = (file: ContextFile, name: string): Effect.Effect<ContextEntry, ContextNotFound> =>
      Option.match(lookup(file, name), {
        onNone: () => Effect.fail(new ContextNotFound({ name, available: sortedNames(file) })),
        onSome: Effect.succeed
      })

    const list: Effect.Effect<ReadonlyArray<NamedContext>, ContextFileError> = Effect.map(
      load,
      (file) => sortedNames(file).map((name) => named(file, name, file.contexts[name] as ContextEntry))
    )

    const current: Effect.Effect<NamedContext, ContextNotFound | ContextFileError> = Effect.gen(function*() {
      const file = yield* load
      const context = yield* find(file, file.currentContext)
      return named(file, file.currentContext, context)
    }).pipe(Effect.withSpan("ContextRepo.current"))

    const get: (name: string) => Effect.Effect<NamedContext, ContextNotFound | InvalidContextName | ContextFileError> =
      Effect.fn("ContextRepo.get")(function*(name: string) {
        yield* checkName(name)
        const file = yield* load
        return named(file, name, yield* find(file, name))
      })

    const upsert: (
      name: string,
      context: ContextEntry,
      options?: UpsertOptions
    ) => Effect.Effect<NamedContext, InvalidContextName | InvalidServerAddress | ContextExists | ContextFileError> = Effect
      .fn("ContextRepo.upsert")(function*(name: string, context: ContextEntry, options: UpsertOptions = {}) {
        yield* checkName(name)
        const server = yield* parseServerAddress(context.server)
        const entry: ContextEntry = { ...context, server }
        return yield* modify((file) => {
          if (options.overwrite === false && Object.hasOwn(file.contexts, name)) {
            return Effect.fail(new ContextExists({ name }))
          }
          const next: ContextFile = {
            ...file,
            currentContext: options.activate === true ? name : file.currentContext,
            contexts: { ...file.contexts, [name]: entry }
          }
          return Effect.succeed([named(next, name, entry), next] as const)
        })
      })

    const use: (name: string) => Effect.Effect<NamedContext, ContextNotFound | InvalidContextName | ContextFileError> =
      Effect.fn("ContextRepo.use")(function*(name: string) {
        yield* checkName(name)
        return yield* modify((file) =>
          Effect.map(find(file, name), (context) => {
            const next: ContextFile = { ...file, currentContext: name }
            return [named(next, name, context), next] as const
          })
        )
      })

    const rename: (
      from: string,
      to: string
    ) => Effect.Effect<
      NamedContext,
      ContextNotFound | ContextExists | DefaultContextProtected | InvalidContextName | ContextFileError
    > = Effect.fn("ContextRepo.rename")(function*(from: string, to: string) {
      if (from === DEFAULT_CONTEXT_NAME) return yield* new DefaultContextProtected({ operation: "rename" })
      yield* checkName(from)
      yield* checkName(to)
      return yield* modify((file) =>
        Effect.gen(function*() {
          const context = yield* find(file, from)
          if (from === to) return [named(file, to, context), file] as const
          if (Object.hasOwn(file.contexts, to)) return yield* new ContextExists({ name: to })
          // Keep the context's place in the file.
          const contexts: Record<string, ContextEntry> = {}
          for (const [name, entry] of Object.entries(file.contexts)) contexts[name === from ? to : name] = entry
          const next: ContextFile = {
            ...file,
            currentContext: file.currentContext === from ? to : file.currentContext,
            contexts
          }
          return [named(next, to, context), next] as const
        })
      )
    })

    const remove: (
      name: string
    ) => Effect.Effect<RemoveResult, ContextNotFound | DefaultContextProtected | InvalidContextName | ContextFileError> =
      Effect.fn("ContextRepo.remove")(function*(name: string) {
        if (name === DEFAULT_CONTEXT_NAME) return yield* new DefaultContextProtected({ operation: "remove" })
        yield* checkName(name)
        return yield* modify((file) =>
          Effect.map(find(file, name), (context) => {
            const { [name]: _removed, ...contexts } = file.contexts
            const currentContext = file.currentContext === name ? DEFAULT_CONTEXT_NAME : file.currentContext
            const next: ContextFile = { ...file, currentContext, contexts }
            return [{ removed: named(file, name, context), currentContext }, next] as const
          })
        )
      })

    const exportContexts: (
      options: { readonly noSecrets: boolean }
    ) => Effect.Effect<string, ContextFileError> = Effect.fn("ContextRepo.exportContexts")(
      function*(options: { readonly noSecrets: boolean }) {
        const file = yield* load
        return encodeContextFile(options.noSecrets ? stripSecrets(file) : file)
      }
    )

    const importContexts: (
      content: string,
      options: ImportOptions
    ) => Effect.Effect<ImportResult, ContextFileError> = Effect.fn("ContextRepo.importContexts")(
      function*(content: string, options: ImportOptions) {
        const decoded = decodeContextFile(content)
        if (Either.isLeft(decoded)) {
          return yield* new ContextFileCorrupt({ path: options.source ?? "the imported content", error: decoded.left })
        }
        const incoming = decoded.right
        const imported = Object.keys(incoming.contexts)
        return yield* modify((file) => {
          let next: ContextFile
          if (options.merge) {
            next = { ...file, contexts: { ...file.contexts, ...incoming.contexts } }
          } else {
            const contexts: Record<string, ContextEntry> = {
              [DEFAULT_CONTEXT_NAME]: file.contexts[DEFAULT_CONTEXT_NAME] ?? defaultContextEntry,
              ...incoming.contexts
            }
            const currentContext = [incoming.currentContext, file.currentContext].find((name) =>
              Object.hasOwn(contexts, name)
            ) ?? DEFAULT_CONTEXT_NAME
            next = { ...incoming, currentContext, contexts }
          }
          return Effect.succeed([{ imported, currentContext: next.currentContext }, next] as const)
        })
      }
    )

    return {
      /** Absolute path of the context file. */
      path,
      load,
      list,
      current,
      get,
      upsert,
      use,
      rename,
      remove,
      exportContexts,
      importContexts
    } as const
  })
}) {
  /** The repository on a given TETHER_HOME directory. */
  static at = (dir: string): Layer.Layer<ContextRepo> =>
    ContextRepo.DefaultWithoutDependencies.pipe(Layer.provide(TetherHome.fixed(dir)))

  /** The repository on a fresh temporary TETHER_HOME, deleted when the layer is released. */
  static Test: Layer.Layer<ContextRepo> = Layer.unwrapScoped(
    Effect.map(
      Effect.acquireRelease(
        Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), "tether-contexts-"))),
        (dir) => Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }))
      ),
      ContextRepo.at
    )
  )
}
