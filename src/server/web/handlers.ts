/**
 * Handlers of the web UI's sign-in (`/v1/web/session`): sign in (sets the
 * HttpOnly session cookie, answers with the CSRF token), who is signed in,
 * and sign out (revokes the session's token and clears the cookie).
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { TetherApi } from "../../domain/api/index.js"
import { WebSessionInfo } from "../../domain/api/web.js"
import { InvalidRequest, TooManyAttempts, Unauthorized } from "../../domain/errors.js"
import { CurrentPrincipal } from "../../domain/principal.js"
import type { TokenRow } from "../../services/tokens/TokenRepo.js"
import { TokenStore } from "../../services/tokens/TokenStore.js"
import { csrfTokenFor } from "../../services/web-session/csrf.js"
import { WebSessions } from "../../services/web-session/WebSessions.js"
import { presentedCredential, presentsCookieOnly } from "../authorization.js"
import { AllowedOrigins, clearSessionCookie, sameOrigin, setSessionCookie } from "./cookie.js"

const encodeInfo = Schema.encodeSync(WebSessionInfo)
const encodeTooMany = Schema.encodeSync(TooManyAttempts)

const infoOf = (row: TokenRow, token: string, cookie: boolean): WebSessionInfo =>
  new WebSessionInfo({
    tokenId: row.id,
    name: row.name,
    prefix: row.prefix,
    scope: row.scope,
    expiresAt: row.expiresAt === null ? null : DateTime.unsafeMake(row.expiresAt),
    csrf: csrfTokenFor(token),
    cookie
  })

export const WebHandlers = HttpApiBuilder.group(TetherApi, "web", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* WebSessions
    const tokens = yield* TokenStore
    const allowedOrigins = yield* AllowedOrigins.pipe(Effect.orElseSucceed(() => [] as ReadonlyArray<string>))

    return handlers
      .handle("signIn", ({ payload }) =>
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const principal = yield* CurrentPrincipal
          if (!sameOrigin(request.headers, allowedOrigins)) {
            return yield* new InvalidRequest({ error: "sign-in refused: the request comes from another site (Origin)" })
          }
          const signedIn = "password" in payload
            ? yield* sessions.signInWithPassword(payload.password, principal.peer)
            : yield* sessions.signInWithToken(payload.token, principal.peer)
          const token = Redacted.value(signedIn.token)
          const now = yield* Clock.currentTimeMillis
          const maxAge = signedIn.row.expiresAt === null ? sessions.hours * 3600 : (signedIn.row.expiresAt - now) / 1000
          return HttpServerResponse.unsafeJson(encodeInfo(infoOf(signedIn.row, token, true)), {
            status: 201,
            headers: {
              "set-cookie": setSessionCookie(token, maxAge, request.headers),
              "cache-control": "no-store"
            }
          })
        }).pipe(Effect.catchTag("TooManyAttempts", (e) =>
          Effect.succeed(
            HttpServerResponse.unsafeJson(encodeTooMany(e), {
              status: 429,
              headers: { "retry-after": String(e.retryAfterSeconds) }
            })
          ))))
      .handle("current", () =>
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const principal = yield* CurrentPrincipal
          const credential = presentedCredential(request.headers)
          if (principal._tag !== "AccessToken" || Option.isNone(credential)) {
            return yield* new Unauthorized({ reason: "missing", error: "not signed in" })
          }
          const row = yield* tokens.get(principal.tokenId).pipe(
            Effect.flatMap(Option.match({
              onNone: () => Effect.fail(new Unauthorized({ reason: "unknown", error: "token no longer exists" })),
              onSome: Effect.succeed
            }))
          )
          return infoOf(row, credential.value, presentsCookieOnly(request.headers))
        }).pipe(Effect.orDie))
      .handle("signOut", () =>
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const principal = yield* CurrentPrincipal
          if (principal._tag !== "AccessToken" || !presentsCookieOnly(request.headers)) {
            return yield* new InvalidRequest({
              error: "only a web session (the tether_session cookie) signs out here; revoke other tokens with DELETE /api/cli/tokens/:id"
            })
          }
          yield* sessions.signOut(principal.tokenId, principal.peer)
          return HttpServerResponse.unsafeJson({ signedOut: true }, {
            headers: { "set-cookie": clearSessionCookie(request.headers), "cache-control": "no-store" }
          })
        }))
  }))
