/**
 * WebSessions: signs browsers in and out of the web UI.
 *
 * A web session is an ordinary access token (name "web session", visible and
 * revocable in the token list) that lives only in the browser's HttpOnly
 * cookie. It is created
 *  - from the management password, through PasswordExchange (the same
 *    per-address lockout and audit as `tether connect`), with admin scope;
 *  - from an existing access token, with that token's scope and never
 *    outliving it.
 * Its lifetime is `TETHER_WEB_SESSION_HOURS` whole hours (default 12).
 * Signing out revokes the token.
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { TooManyAttempts, InvalidPassword, Unauthorized, InvalidRequest } from "../../domain/errors.js"
import { AuditLog } from "../audit/AuditLog.js"
import { PasswordExchange } from "../connect/PasswordExchange.js"
import { type IssuedToken, TokenStore } from "../tokens/TokenStore.js"
import type { TokenRow } from "../tokens/TokenRepo.js"

export const WEB_SESSION_NAME = "web session"
export const DEFAULT_WEB_SESSION_HOURS = 12
const MAX_WEB_SESSION_HOURS = 720
const HOUR_MS = 3_600_000

/** Whole hours, so the expiry stays an integer number of milliseconds (hours / 24 days). */
export const WebSessionHours = Config.integer("TETHER_WEB_SESSION_HOURS").pipe(
  Config.withDefault(DEFAULT_WEB_SESSION_HOURS),
  Config.validate({
    message: `TETHER_WEB_SESSION_HOURS must be a whole number of hours between 1 and ${MAX_WEB_SESSION_HOURS}`,
    validation: (hours) => hours >= 1 && hours <= MAX_WEB_SESSION_HOURS
  })
)

export interface SignedIn {
  readonly token: Redacted.Redacted<string>
  readonly row: TokenRow
}

export class WebSessions extends Effect.Service<WebSessions>()("tether/WebSessions", {
  effect: Effect.gen(function*() {
    const hours = yield* WebSessionHours
    const exchange = yield* PasswordExchange
    const tokens = yield* TokenStore
    const audit = yield* AuditLog

    const signInWithPassword = Effect.fn("WebSessions.signInWithPassword")(
      function*(password: Redacted.Redacted<string>, peer: string | null): Effect.fn.Return<SignedIn, InvalidPassword | TooManyAttempts> {
        const issued: IssuedToken = yield* exchange.connect({
          password,
          peer,
          name: WEB_SESSION_NAME,
          scope: "admin",
          expiresInDays: hours / 24
        })
        return issued
      }
    )

    const signInWithToken = Effect.fn("WebSessions.signInWithToken")(
      function*(presented: Redacted.Redacted<string>, peer: string | null): Effect.fn.Return<SignedIn, Unauthorized | InvalidRequest> {
        const { row: source } = yield* tokens.verify("access", Redacted.value(presented))
        const now = yield* Clock.currentTimeMillis
        // Never outlive the token it came from: whole hours left, at most the configured lifetime.
        const left = source.expiresAt === null ? hours : Math.min(hours, Math.floor((source.expiresAt - now) / HOUR_MS))
        if (left < 1) {
          return yield* new InvalidRequest({
            error: `token ${source.prefix}… expires in less than an hour; sign in with a longer-lived token or the password`
          })
        }
        const issued = yield* tokens.issue({
          kind: "access",
          name: WEB_SESSION_NAME,
          scope: source.scope,
          expiresInDays: left / 24,
          createdBy: `${source.name} (${source.prefix}…)`
        })
        yield* audit.record({
          action: "token.created",
          actor: `${source.name} (${source.prefix}…)`,
          peer,
          outcome: "success",
          detail: `${issued.row.scope} web session ${issued.row.prefix}… for ${left} h`
        })
        return issued
      }
    )

    /** Revokes the session's token; signing out twice is not an error. */
    const signOut = Effect.fn("WebSessions.signOut")(function*(tokenId: string, peer: string | null) {
      const outcome = yield* tokens.revoke("access", tokenId).pipe(
        Effect.catchTags({ TokenNotFound: () => Effect.succeed(null), AmbiguousToken: () => Effect.succeed(null) })
      )
      if (outcome !== null && !outcome.alreadyRevoked) {
        yield* audit.record({
          action: "token.revoked",
          actor: `${outcome.row.name} (${outcome.row.prefix}…)`,
          peer,
          outcome: "success",
          detail: `signed out of web session ${outcome.row.prefix}…`
        })
      }
    })

    return { hours, signInWithPassword, signInWithToken, signOut } as const
  })
}) {}
