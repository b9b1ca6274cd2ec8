/**
 * The management password: the one secret that can mint access tokens.
 * Only its scrypt hash is stored (settings key `management_password`).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { SettingsRepo } from "../settings/SettingsRepo.js"
import { randomBase62 } from "../tokens/secret.js"
import { hashPassword, verifyPassword } from "./scrypt.js"

const KEY = "management_password"
/** 24 base62 characters ≈ 143 bits. */
const GENERATED_LENGTH = 24

export type InitOutcome =
  | { readonly _tag: "Existing" }
  | { readonly _tag: "FromEnvironment" }
  | { readonly _tag: "Generated"; readonly password: Redacted.Redacted<string> }

export class ManagementPassword extends Effect.Service<ManagementPassword>()("tether/ManagementPassword", {
  effect: Effect.gen(function*() {
    const settings = yield* SettingsRepo

    const store = (password: string) =>
      Effect.gen(function*() {
        const hash = yield* hashPassword(password)
        yield* settings.set(KEY, hash, yield* Clock.currentTimeMillis)
      })

    const verify = Effect.fn("ManagementPassword.verify")(
      function*(candidate: Redacted.Redacted<string>): Effect.fn.Return<boolean> {
        const stored = yield* settings.get(KEY)
        if (Option.isNone(stored)) return false
        return yield* verifyPassword(Redacted.value(candidate), stored.value)
      }
    )

    /**
     * Called at server start. A configured password (TETHER_PASSWORD) wins and
     * is stored if it differs; with none configured and none stored, a strong
     * one is generated and returned so the caller can print it once.
     */
    const initialize = Effect.fn("ManagementPassword.initialize")(
      function*(configured: Option.Option<Redacted.Redacted<string>>): Effect.fn.Return<InitOutcome> {
        const stored = yield* settings.get(KEY)
        if (Option.isSome(configured)) {
          const matches = Option.isSome(stored) && (yield* verifyPassword(Redacted.value(configured.value), stored.value))
          if (!matches) yield* store(Redacted.value(configured.value))
          return { _tag: "FromEnvironment" }
        }
        if (Option.isSome(stored)) return { _tag: "Existing" }
        const generated = randomBase62(GENERATED_LENGTH)
        yield* store(generated)
        return { _tag: "Generated", password: Redacted.make(generated) }
      }
    )

    /** Sets a new password: the given one, or a generated one that is returned. */
    const rotate = Effect.fn("ManagementPassword.rotate")(
      function*(next: Option.Option<Redacted.Redacted<string>>): Effect.fn.Return<Redacted.Redacted<string>> {
        const password = Option.getOrElse(next, () => Redacted.make(randomBase62(GENERATED_LENGTH)))
        yield* store(Redacted.value(password))
        return password
      }
    )

    const isSet = settings.get(KEY).pipe(Effect.map(Option.isSome))

    return { verify, initialize, rotate, isSet } as const
  })
}) {}
