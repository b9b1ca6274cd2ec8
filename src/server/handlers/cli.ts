import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as DateTime from "effect/DateTime"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { CreatedAccessToken, RevokedToken, Whoami } from "../../domain/access-token.js"
import { TetherApi } from "../../domain/api/index.js"
import { TooManyAttempts, Unauthorized } from "../../domain/errors.js"
import { actorName, CurrentPrincipal, type Principal } from "../../domain/principal.js"
import { TETHER_VERSION } from "../../domain/version.js"
import { AuditLog } from "../../services/audit/AuditLog.js"
import { PasswordExchange } from "../../services/connect/PasswordExchange.js"
import { toTokenInfo, TokenStore } from "../../services/tokens/TokenStore.js"

const encodeTooMany = Schema.encodeSync(TooManyAttempts)

/** A 429 that also carries Retry-After, as HTTP clients and proxies expect. */
const tooManyAttemptsResponse = (error: TooManyAttempts) =>
  HttpServerResponse.unsafeJson(encodeTooMany(error), {
    status: 429,
    headers: { "retry-after": String(error.retryAfterSeconds) }
  })

/** Scoped routes always run with a token principal; this narrows the type. */
const tokenPrincipal = Effect.flatMap(CurrentPrincipal, (principal: Principal) =>
  principal._tag === "AccessToken"
    ? Effect.succeed(principal)
    : Effect.fail(new Unauthorized({ reason: "missing", error: "this route needs an access token" })))

export const CliHandlers = HttpApiBuilder.group(TetherApi, "cli", (handlers) =>
  Effect.gen(function*() {
    const exchange = yield* PasswordExchange
    const tokens = yield* TokenStore
    const audit = yield* AuditLog

    const created = (issued: { token: CreatedAccessToken["token"]; row: Parameters<typeof toTokenInfo>[0] }) =>
      Effect.map(Clock.currentTimeMillis, (now) => new CreatedAccessToken({ token: issued.token, info: toTokenInfo(issued.row, now) }))

    return handlers
      .handle("connect", ({ payload }) =>
        Effect.gen(function*() {
          const principal = yield* CurrentPrincipal
          const issued = yield* exchange.connect({
            password: payload.password,
            peer: principal.peer,
            name: payload.name,
            scope: payload.scope,
            expiresInDays: payload.expiresInDays
          })
          return yield* created(issued)
        }).pipe(Effect.catchTag("TooManyAttempts", (e) => Effect.succeed(tooManyAttemptsResponse(e)))))
      .handle("whoami", () =>
        Effect.gen(function*() {
          const principal = yield* tokenPrincipal
          const row = yield* tokens.get(principal.tokenId).pipe(
            Effect.flatMap(Option.match({
              onNone: () => Effect.fail(new Unauthorized({ reason: "unknown", error: "token no longer exists" })),
              onSome: Effect.succeed
            }))
          )
          return new Whoami({
            tokenId: row.id,
            name: row.name,
            prefix: row.prefix,
            scope: row.scope,
            createdAt: DateTime.unsafeMake(row.createdAt),
            expiresAt: row.expiresAt === null ? null : DateTime.unsafeMake(row.expiresAt),
            server: { version: TETHER_VERSION }
          })
        }))
      .handle("listTokens", () =>
        Effect.gen(function*() {
          const rows = yield* tokens.list("access")
          const now = yield* Clock.currentTimeMillis
          return { tokens: rows.map((row) => toTokenInfo(row, now)) }
        }))
      .handle("createToken", ({ payload }) =>
        Effect.gen(function*() {
          const principal = yield* tokenPrincipal
          const issued = yield* tokens.issue({
            kind: "access",
            name: payload.name,
            scope: payload.scope,
            expiresInDays: payload.expiresInDays,
            createdBy: actorName(principal)
          })
          yield* audit.record({
            action: "token.created",
            actor: actorName(principal),
            peer: principal.peer,
            outcome: "success",
            detail: `${issued.row.scope} token ${issued.row.prefix}… (${issued.row.name})`
          })
          return yield* created(issued)
        }))
      .handle("revokeToken", ({ path }) =>
        Effect.gen(function*() {
          const principal = yield* tokenPrincipal
          const { alreadyRevoked, row } = yield* tokens.revoke("access", path.idOrPrefix)
          if (!alreadyRevoked) {
            yield* audit.record({
              action: "token.revoked",
              actor: actorName(principal),
              peer: principal.peer,
              outcome: "success",
              detail: `${row.scope} token ${row.prefix}… (${row.name})`
            })
          }
          return new RevokedToken({ token: toTokenInfo(row, yield* Clock.currentTimeMillis), alreadyRevoked })
        }))
  }))
