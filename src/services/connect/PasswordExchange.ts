/**
 * PasswordExchange: trades the management password for a scoped access token
 * (`tether connect`). Failed attempts are counted per client address in the
 * database, so a lockout survives restarts and holds across server instances.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import { InvalidPassword, TooManyAttempts } from "../../domain/errors.js"
import type { Scope } from "../../domain/scope.js"
import { AuditLog } from "../audit/AuditLog.js"
import { LockoutRepo } from "../lockout/LockoutRepo.js"
import { ManagementPassword } from "../password/ManagementPassword.js"
import { type IssuedToken, TokenStore } from "../tokens/TokenStore.js"

export const LOCKOUT_POLICY = {
  maxFailures: 5,
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000
} as const

export interface ConnectAttempt {
  readonly password: Redacted.Redacted<string>
  readonly peer: string | null
  readonly name?: string | undefined
  readonly scope: Scope
  readonly expiresInDays?: number | undefined
}

export class PasswordExchange extends Effect.Service<PasswordExchange>()("tether/PasswordExchange", {
  effect: Effect.gen(function*() {
    const password = yield* ManagementPassword
    const lockout = yield* LockoutRepo
    const tokens = yield* TokenStore
    const audit = yield* AuditLog

    const lockedOut = (peer: string | null, lockedUntil: number, now: number) =>
      new TooManyAttempts({
        retryAfterSeconds: Math.max(1, Math.ceil((lockedUntil - now) / 1000)),
        error: `too many failed password attempts from ${peer ?? "this address"}; ` +
          `try again after ${new Date(lockedUntil).toISOString()}`
      })

    const connect = Effect.fn("PasswordExchange.connect")(
      function*(attempt: ConnectAttempt): Effect.fn.Return<IssuedToken, InvalidPassword | TooManyAttempts> {
        const address = attempt.peer ?? "unknown"
        const now = yield* Clock.currentTimeMillis
        const status = yield* lockout.status(address, now)
        if (status.lockedUntil !== null) {
          yield* audit.record({
            action: "connect.lockout",
            actor: "password",
            peer: attempt.peer,
            outcome: "failure",
            detail: "attempt refused while locked out"
          })
          return yield* lockedOut(attempt.peer, status.lockedUntil, now)
        }

        if (!(yield* password.verify(attempt.password))) {
          const after = yield* lockout.recordFailure(address, now, LOCKOUT_POLICY)
          yield* audit.record({
            action: "connect.failure",
            actor: "password",
            peer: attempt.peer,
            outcome: "failure",
            detail: `wrong password (${after.failures}/${LOCKOUT_POLICY.maxFailures})`
          })
          if (after.lockedUntil !== null) {
            yield* audit.record({
              action: "connect.lockout",
              actor: "password",
              peer: attempt.peer,
              outcome: "failure",
              detail: `locked for ${LOCKOUT_POLICY.lockMs / 60_000} minutes`
            })
            return yield* lockedOut(attempt.peer, after.lockedUntil, now)
          }
          const remainingAttempts = Math.max(0, LOCKOUT_POLICY.maxFailures - after.failures)
          return yield* new InvalidPassword({
            error: `wrong management password (${remainingAttempts} more ${remainingAttempts === 1 ? "attempt" : "attempts"} ` +
              `from this address before a ${LOCKOUT_POLICY.lockMs / 60_000}-minute lockout)`,
            remainingAttempts
          })
        }

        yield* lockout.clear(address)
        const issued = yield* tokens.issue({
          kind: "access",
          name: attempt.name ?? `cli@${attempt.peer ?? "unknown"}`,
          scope: attempt.scope,
          expiresInDays: attempt.expiresInDays,
          createdBy: "password"
        })
        yield* audit.record({
          action: "connect.success",
          actor: "password",
          peer: attempt.peer,
          outcome: "success",
          detail: `issued ${issued.row.scope} token ${issued.row.prefix}… (${issued.row.name})`
        })
        return issued
      }
    )

    return { connect } as const
  })
}) {}
