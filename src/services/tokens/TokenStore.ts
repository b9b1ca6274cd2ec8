/**
 * TokenStore: issues, verifies, lists and revokes secret tokens of both kinds
 * (management access tokens `tat_…` and inference keys `tsk_…`).
 *
 * Only the SHA-256 of a token is stored; its plaintext is returned once, by
 * `issue`. `verify` stamps last-used in memory and a background fiber writes
 * the stamps in one batch a few seconds later (and at shutdown), so a request
 * never waits on a database write.
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Queue from "effect/Queue"
import { AccessTokenInfo, type TokenStatus } from "../../domain/access-token.js"
import { AmbiguousToken, TokenNotFound, Unauthorized } from "../../domain/errors.js"
import type { Scope } from "../../domain/scope.js"
import { describeKind, DISPLAY_PREFIX_LENGTH, parseToken, type TokenKind, tokenPrefix } from "../../domain/token-format.js"
import { TokenRepo, type TokenRow } from "./TokenRepo.js"
import { generateToken, hashToken, newId } from "./secret.js"

const DAY_MS = 86_400_000
/** How often pending last-used stamps are written. */
export const LAST_USED_FLUSH_INTERVAL = Duration.seconds(10)

export interface IssueRequest {
  readonly kind: TokenKind
  readonly name: string
  readonly scope: Scope
  readonly expiresInDays?: number | undefined
  readonly createdBy: string
}

export interface IssuedToken {
  readonly token: Redacted.Redacted<string>
  readonly row: TokenRow
}

export interface RevokeOutcome {
  readonly row: TokenRow
  /** True when it was revoked before this call (nothing changed, nothing to audit). */
  readonly alreadyRevoked: boolean
}

export interface VerifiedToken {
  readonly row: TokenRow
}

export const tokenStatus = (row: TokenRow, now: number): TokenStatus =>
  row.revokedAt !== null ? "revoked" : row.expiresAt !== null && row.expiresAt <= now ? "expired" : "active"

const toDate = (ms: number | null) => (ms === null ? null : DateTime.unsafeMake(ms))

export const toTokenInfo = (row: TokenRow, now: number): AccessTokenInfo =>
  new AccessTokenInfo({
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scope: row.scope,
    status: tokenStatus(row, now),
    createdAt: DateTime.unsafeMake(row.createdAt),
    lastUsedAt: toDate(row.lastUsedAt),
    expiresAt: toDate(row.expiresAt),
    revokedAt: toDate(row.revokedAt),
    createdBy: row.createdBy
  })

const refuse = (reason: Unauthorized["reason"], error: string) => new Unauthorized({ reason, error })

export class TokenStore extends Effect.Service<TokenStore>()("tether/TokenStore", {
  scoped: Effect.gen(function*() {
    const repo = yield* TokenRepo
    /** id → newest unflushed last-used time. */
    const pending = new Map<string, number>()

    const flush = Effect.suspend(() => {
      if (pending.size === 0) return Effect.void
      const entries = Array.from(pending, ([id, at]) => ({ id, at }))
      pending.clear()
      return repo.touchLastUsed(entries)
    }).pipe(Effect.withSpan("TokenStore.flushLastUsed"))

    // The flusher sleeps until the first stamp after a flush, waits one
    // interval so later stamps join the batch, then writes them all at once.
    const dirty = yield* Queue.sliding<void>(1)
    yield* Queue.take(dirty).pipe(
      Effect.zipRight(Effect.sleep(LAST_USED_FLUSH_INTERVAL)),
      Effect.zipRight(flush),
      Effect.forever,
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => flush)

    const withPending = (row: TokenRow): TokenRow => {
      const stamp = pending.get(row.id)
      return stamp !== undefined && (row.lastUsedAt === null || stamp > row.lastUsedAt)
        ? { ...row, lastUsedAt: stamp }
        : row
    }

    const issue = Effect.fn("TokenStore.issue")(function*(request: IssueRequest) {
      const now = yield* Clock.currentTimeMillis
      const token = generateToken(request.kind)
      const row: TokenRow = {
        id: newId(request.kind === "access" ? "tok" : "key"),
        kind: request.kind,
        tokenHash: hashToken(token),
        prefix: token.slice(0, DISPLAY_PREFIX_LENGTH),
        name: request.name,
        scope: request.scope,
        createdAt: now,
        lastUsedAt: null,
        expiresAt: request.expiresInDays === undefined ? null : now + request.expiresInDays * DAY_MS,
        revokedAt: null,
        createdBy: request.createdBy
      }
      yield* repo.insert(row)
      return { token: Redacted.make(token), row } satisfies IssuedToken
    })

    const verify = Effect.fn("TokenStore.verify")(
      function*(kind: TokenKind, presented: string): Effect.fn.Return<VerifiedToken, Unauthorized> {
        const parsed = parseToken(presented, kind)
        if (Either.isLeft(parsed)) {
          return yield* refuse(parsed.left.reason === "wrong_kind" ? "wrong_kind" : "malformed", parsed.left.message)
        }
        const found = yield* repo.findByHash(hashToken(parsed.right.token))
        if (Option.isNone(found) || found.value.kind !== kind) {
          return yield* refuse("unknown", `unknown ${describeKind(kind)} ${parsed.right.displayPrefix}…`)
        }
        const row = found.value
        const now = yield* Clock.currentTimeMillis
        if (row.revokedAt !== null) {
          return yield* refuse(
            "revoked",
            `${describeKind(kind)} ${row.prefix}… was revoked at ${new Date(row.revokedAt).toISOString()}`
          )
        }
        if (row.expiresAt !== null && row.expiresAt <= now) {
          return yield* refuse(
            "expired",
            `${describeKind(kind)} ${row.prefix}… expired at ${new Date(row.expiresAt).toISOString()}`
          )
        }
        if (pending.size === 0) Queue.unsafeOffer(dirty, undefined)
        pending.set(row.id, Math.max(now, pending.get(row.id) ?? 0))
        return { row: withPending(row) }
      }
    )

    const list = Effect.fn("TokenStore.list")(function*(kind: TokenKind) {
      const rows = yield* repo.list(kind)
      return rows.map(withPending)
    })

    const get = Effect.fn("TokenStore.get")(function*(id: string) {
      return Option.map(yield* repo.findById(id), withPending)
    })

    const revoke = Effect.fn("TokenStore.revoke")(
      function*(
        kind: TokenKind,
        idOrPrefix: string
      ): Effect.fn.Return<RevokeOutcome, TokenNotFound | AmbiguousToken> {
        const wanted = idOrPrefix.trim()
        // The whole secret also identifies a token (by its hash), e.g. one that leaked.
        const whole = parseToken(wanted, kind)
        const matches = Either.isRight(whole)
          ? Option.toArray(Option.filter(yield* repo.findByHash(hashToken(whole.right.token)), (r) => r.kind === kind))
          : yield* repo.findByIdOrPrefix(kind, wanted)
        if (matches.length === 0) {
          return yield* new TokenNotFound({
            idOrPrefix,
            error: `no ${describeKind(kind)} matches ${JSON.stringify(idOrPrefix)}; give its id, ` +
              `its prefix as listed (${tokenPrefix[kind]} and ${DISPLAY_PREFIX_LENGTH - 4} characters, or fewer), or the whole token`
          })
        }
        if (matches.length > 1) {
          return yield* new AmbiguousToken({
            idOrPrefix,
            error: `${JSON.stringify(idOrPrefix)} matches ${matches.length} tokens; nothing was revoked. ` +
              `Use the id or a longer prefix.`,
            matches: matches.map((m) => ({ id: m.id, prefix: m.prefix, name: m.name }))
          })
        }
        const target = matches[0] as TokenRow
        if (target.revokedAt !== null) return { row: target, alreadyRevoked: true }
        const revoked = yield* repo.revoke(target.id, yield* Clock.currentTimeMillis)
        return { row: Option.getOrElse(revoked, () => target), alreadyRevoked: false }
      }
    )

    return { issue, verify, list, get, revoke, flushLastUsed: flush } as const
  })
}) {}
