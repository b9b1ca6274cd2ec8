/** Reading a secret from stdin or a hidden prompt; never from argv. */
import * as Prompt from "@effect/cli/Prompt"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { CliError } from "./errors.js"
import { Stdin } from "./output.js"

/** The first line of stdin, trimmed; fails when empty. */
export const readSecretFromStdin = (what: string): Effect.Effect<Redacted.Redacted<string>, CliError> =>
  Effect.gen(function*() {
    const stdin = yield* Stdin
    const text = (yield* stdin.readAll).split(/\r?\n/)[0]?.trim() ?? ""
    if (text === "") return yield* new CliError({ message: `no ${what} on stdin`, exitCode: 2 })
    return Redacted.make(text)
  })

/**
 * From stdin when asked to (`--password-stdin`), else a hidden prompt when
 * someone is at a terminal; a non-interactive shell gets a clear error, never a hang.
 */
export const readSecret = (what: string, options: { readonly fromStdin: boolean; readonly flag: string }) =>
  Effect.gen(function*() {
    if (options.fromStdin) return yield* readSecretFromStdin(what)
    const stdin = yield* Stdin
    if (!(yield* stdin.isTTY)) {
      return yield* new CliError({
        message: `no ${what}: stdin is not a terminal; pass ${options.flag} and pipe it in`,
        exitCode: 2
      })
    }
    const entered = yield* Prompt.password({ message: `${what[0]?.toUpperCase()}${what.slice(1)}` }).pipe(
      Effect.mapError(() => new CliError({ message: "cancelled", exitCode: 130 }))
    )
    if (Redacted.value(entered).trim() === "") return yield* new CliError({ message: `empty ${what}`, exitCode: 2 })
    return entered
  })
