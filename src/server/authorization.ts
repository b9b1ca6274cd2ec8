/**
 * The Authorization middleware: every API route passes through it. It finds
 * the route's declared rule (ScopeGuard), refuses undeclared routes, checks
 * loopback-only routes against the real peer address, then verifies the
 * access token (Bearer, X-API-Key, or the web UI's session cookie) and its
 * scope. Cookie-authenticated requests other than GET/HEAD/OPTIONS also need
 * the session's X-Tether-CSRF token and, when sent, a same-origin Origin.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Authorization } from "../domain/api/authorization.js"
import { headerCredential } from "../domain/credential-header.js"
import { Forbidden, Unauthorized } from "../domain/errors.js"
import type { Principal } from "../domain/principal.js"
import { normalizePeer } from "../services/scope-guard/peer.js"
import { ScopeGuard } from "../services/scope-guard/ScopeGuard.js"
import { TokenStore } from "../services/tokens/TokenStore.js"
import { CSRF_HEADER } from "../domain/api/web.js"
import { csrfMatches } from "../services/web-session/csrf.js"
import { AllowedOrigins, sameOrigin, sessionCookie } from "./web/cookie.js"


/**
 * The credential a request presents, from `Authorization: Bearer …` or
 * `X-API-Key`, or else the web UI's `tether_session` cookie.
 */
export const presentedCredential = (headers: Readonly<Record<string, string | undefined>>): Option.Option<string> =>
  Option.orElse(headerCredential(headers), () => Option.fromNullable(sessionCookie(headers)))

/** Whether the request's credential is the web session cookie (no credential header present). */
export const presentsCookieOnly = (headers: Readonly<Record<string, string | undefined>>): boolean =>
  Option.isNone(headerCredential(headers)) && sessionCookie(headers) !== undefined

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"])

export const peerOf = (request: HttpServerRequest.HttpServerRequest): string | null =>
  Option.match(request.remoteAddress, { onNone: () => null, onSome: normalizePeer })

export const AuthorizationLive = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const guard = yield* ScopeGuard
    const tokens = yield* TokenStore
    const allowedOrigins = yield* AllowedOrigins.pipe(Effect.orElseSucceed(() => [] as ReadonlyArray<string>))
    return Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const { route } = yield* HttpRouter.RouteContext
      const peer = peerOf(request)
      const rule = guard.ruleFor(route.method, route.path)
      if (Option.isNone(rule)) {
        // Fail closed: a route without a declared rule is never served.
        return yield* new Forbidden({ error: "route has no declared access rule", required: "admin", granted: "read" })
      }
      if (rule.value._tag === "Public") return { _tag: "Anonymous", peer } satisfies Principal
      const scoped = rule.value
      yield* guard.checkPeer(scoped, {
        method: request.method,
        peer,
        forwarded: request.headers["x-forwarded-for"] !== undefined
      })
      const credential = presentedCredential(request.headers)
      if (Option.isNone(credential)) {
        return yield* new Unauthorized({
          reason: "missing",
          error: "no access token: send Authorization: Bearer tat_… (run `tether connect` to get one)"
        })
      }
      const { row } = yield* tokens.verify("access", credential.value)
      // Cookie-authenticated mutations must prove they come from the web UI's own pages.
      if (!SAFE_METHODS.has(request.method.toUpperCase()) && presentsCookieOnly(request.headers)) {
        if (!sameOrigin(request.headers, allowedOrigins) || !csrfMatches(credential.value, request.headers[CSRF_HEADER])) {
          return yield* new Forbidden({
            error: "cross-site request refused: send the X-Tether-CSRF header from GET /v1/web/session, from the server's own origin",
            required: row.scope,
            granted: row.scope
          })
        }
      }
      yield* guard.checkScope(scoped, request.method, row.scope)
      return {
        _tag: "AccessToken",
        peer,
        tokenId: row.id,
        name: row.name,
        prefix: row.prefix,
        scope: row.scope
      } satisfies Principal
    })
  })
)
