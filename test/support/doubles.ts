/**
 * In-memory repositories for fast unit and property tests of the services
 * above them. They keep the same contracts as the SQL repositories (which are
 * tested on SQLite and Postgres in test/services/repositories.test.ts).
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type AuditRow, AuditRepo } from "../../src/services/audit/AuditRepo.js"
import { LockoutRepo, nextFailureRecord } from "../../src/services/lockout/LockoutRepo.js"
import { SettingsRepo } from "../../src/services/settings/SettingsRepo.js"
import { TokenRepo, type TokenRow } from "../../src/services/tokens/TokenRepo.js"

export const makeMemoryRepositories = () => {
  const tokens = new Map<string, TokenRow>()
  const audit: Array<AuditRow> = []
  const lockouts = new Map<string, ReturnType<typeof nextFailureRecord>>()
  const settings = new Map<string, string>()
  const touches: Array<ReadonlyArray<{ readonly id: string; readonly at: number }>> = []

  const tokenRepo = TokenRepo.make({
    insert: (row) => Effect.sync(() => void tokens.set(row.id, row)),
    findByHash: (hash) => Effect.sync(() => Option.fromNullable([...tokens.values()].find((t) => t.tokenHash === hash))),
    findById: (id) => Effect.sync(() => Option.fromNullable(tokens.get(id))),
    list: (kind) => Effect.sync(() => [...tokens.values()].filter((t) => t.kind === kind).reverse()),
    findByIdOrPrefix: (kind, text) =>
      Effect.sync(() => {
        const rows = [...tokens.values()].filter((t) => t.kind === kind)
        const exact = rows.filter((t) => t.id === text)
        return exact.length > 0 || text === "" ? exact : rows.filter((t) => t.prefix.startsWith(text))
      }),
    revoke: (id, at) =>
      Effect.sync(() => {
        const row = tokens.get(id)
        if (row === undefined) return Option.none()
        const next = row.revokedAt === null ? { ...row, revokedAt: at } : row
        tokens.set(id, next)
        return Option.some(next)
      }),
    touchLastUsed: (entries) =>
      Effect.sync(() => {
        touches.push(entries)
        for (const { id, at } of entries) {
          const row = tokens.get(id)
          if (row !== undefined && (row.lastUsedAt === null || row.lastUsedAt < at)) tokens.set(id, { ...row, lastUsedAt: at })
        }
      })
  })

  const auditRepo = AuditRepo.make({
    append: (row) => Effect.sync(() => void audit.push(row)),
    list: (q) =>
      Effect.sync(() =>
        audit
          .filter((r) => q.action === undefined || r.action === q.action)
          .sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))
          .slice(0, q.limit)
      )
  })

  const lockoutRepo = LockoutRepo.make({
    status: (address, now) =>
      Effect.sync(() => {
        const lockedUntil = lockouts.get(address)?.lockedUntil ?? null
        return { lockedUntil: lockedUntil !== null && lockedUntil > now ? lockedUntil : null }
      }),
    recordFailure: (address, now, policy) =>
      Effect.sync(() => {
        const next = nextFailureRecord(lockouts.get(address), now, policy)
        lockouts.set(address, next)
        return { failures: next.failures, lockedUntil: next.lockedUntil }
      }),
    clear: (address) => Effect.sync(() => void lockouts.delete(address))
  })

  const settingsRepo = SettingsRepo.make({
    get: (key) => Effect.sync(() => Option.fromNullable(settings.get(key))),
    set: (key, value) => Effect.sync(() => void settings.set(key, value))
  })

  return {
    tokens,
    audit,
    touches,
    layer: Layer.mergeAll(
      Layer.succeed(TokenRepo, tokenRepo),
      Layer.succeed(AuditRepo, auditRepo),
      Layer.succeed(LockoutRepo, lockoutRepo),
      Layer.succeed(SettingsRepo, settingsRepo)
    )
  }
}
