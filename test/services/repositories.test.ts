/**
 * The four repositories and the storage layer, run as one suite against
 * SQLite and against PostgreSQL.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { type Storage, type StorageError, StorageLive } from "../../src/layers/storage.js"
import { type AuditRow, AuditRepo } from "../../src/services/audit/AuditRepo.js"
import { TetherHome } from "../../src/services/home/TetherHome.js"
import { LockoutRepo } from "../../src/services/lockout/LockoutRepo.js"
import { SettingsRepo } from "../../src/services/settings/SettingsRepo.js"
import { EpochMillis } from "../../src/services/storage/columns.js"
import { DatabaseInfo, maskDatabaseUrl } from "../../src/services/storage/DatabaseInfo.js"
import { loader, MIGRATIONS_TABLE, migrations } from "../../src/services/storage/migrations/index.js"
import { TokenRepo, type TokenRow } from "../../src/services/tokens/TokenRepo.js"
import {
  freshPostgresDatabase,
  postgresProbe,
  postgresTestLayer,
  sqliteTestLayer,
  tempDir
} from "../support/databases.js"

const TABLES = ["access_tokens", "audit_log", "connect_failures", "settings"] as const

const Repositories = Layer.mergeAll(TokenRepo.Default, AuditRepo.Default, LockoutRepo.Default, SettingsRepo.Default)

let sequence = 0
/** A token row with unique id and hash; override what the test is about. */
const tokenRow = (overrides: Partial<TokenRow> = {}): TokenRow => {
  sequence += 1
  const n = String(sequence).padStart(4, "0")
  return {
    id: `tok_${n}`,
    kind: "access",
    tokenHash: `${"ab".repeat(30)}${n}`,
    prefix: `tat_${n}xx`,
    name: `token ${n}`,
    scope: "read",
    createdAt: 1_700_000_000_000 + sequence,
    lastUsedAt: null,
    expiresAt: null,
    revokedAt: null,
    createdBy: "test",
    ...overrides
  }
}

const dieOf = <A, E>(exit: Exit.Exit<A, E>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined

const repositorySuite = (name: string, storage: Layer.Layer<Storage, StorageError>): void =>
  layer(Repositories.pipe(Layer.provideMerge(storage)), { excludeTestServices: true, timeout: "60 seconds" })(
    name,
    (it) => {
      it.effect("migrations created every table and running them again is a no-op", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          for (const table of TABLES) {
            const rows = yield* sql`SELECT * FROM ${sql(table)}`
            assert.isArray(rows, table)
          }
          const applied = yield* sql<{ migration_id: number; name: string }>`
            SELECT migration_id, name FROM ${sql(MIGRATIONS_TABLE)} ORDER BY migration_id`
          // Every registered migration, in order: `0002_sessions` is recorded as [2, "sessions"].
          const registered = Object.keys(migrations).map((key) => {
            const [id = "", ...name] = key.split("_")
            return [Number(id), name.join("_")]
          })
          assert.deepStrictEqual(applied.map((row) => [Number(row.migration_id), row.name]), registered)

          const again = yield* Migrator.make({})({ loader })
          assert.deepStrictEqual(again, [])
          const after = yield* sql`SELECT migration_id FROM ${sql(MIGRATIONS_TABLE)}`
          assert.strictEqual(after.length, registered.length)
        }))

      it.effect("DatabaseInfo names the dialect in use; SQLite runs with WAL, foreign keys and a busy timeout", () =>
        Effect.gen(function*() {
          const info = yield* DatabaseInfo
          const sql = yield* SqlClient.SqlClient
          assert.strictEqual(info.kind, sql.onDialectOrElse({ pg: () => "postgres", orElse: () => "sqlite" }))
          assert.notInclude(info.location, "password")
          if (info.kind === "sqlite") {
            const pragma = (name: string) =>
              sql.unsafe<Record<string, unknown>>(`PRAGMA ${name}`).pipe(
                Effect.map((rows) => Object.values(rows[0] ?? {})[0])
              )
            assert.strictEqual(yield* pragma("journal_mode"), "wal")
            assert.strictEqual(yield* pragma("foreign_keys"), 1)
            assert.strictEqual(yield* pragma("busy_timeout"), 5000)
          }
        }))

      describe("TokenRepo", () => {
        it.effect("inserts and finds by hash and by id, with times decoded as numbers", () =>
          Effect.gen(function*() {
            const repo = yield* TokenRepo
            const row = tokenRow({ expiresAt: 1_800_000_000_000, scope: "admin", kind: "inference" })
            yield* repo.insert(row)
            assert.deepStrictEqual(yield* repo.findByHash(row.tokenHash), Option.some(row))
            assert.deepStrictEqual(yield* repo.findById(row.id), Option.some(row))
            assert.isTrue(Option.isNone(yield* repo.findByHash("0".repeat(64))))
            assert.isTrue(Option.isNone(yield* repo.findById("tok_missing")))
          }))

        it.effect("a second row with the same hash is a defect (SqlError), not a typed failure", () =>
          Effect.gen(function*() {
            const repo = yield* TokenRepo
            const first = tokenRow()
            yield* repo.insert(first)
            const exit = yield* Effect.exit(repo.insert(tokenRow({ tokenHash: first.tokenHash })))
            assert.isTrue(Exit.isFailure(exit))
            assert.instanceOf(dieOf(exit), SqlError)
          }))

        it.effect("lists one kind, newest first", () =>
          Effect.gen(function*() {
            const repo = yield* TokenRepo
            const older = tokenRow({ kind: "inference", prefix: "tsk_list01", createdAt: 10 })
            const newer = tokenRow({ kind: "inference", prefix: "tsk_list02", createdAt: 20 })
            yield* repo.insert(older)
            yield* repo.insert(newer)
            const listed = yield* repo.list("inference")
            const ids = listed.map((row) => row.id)
            assert.isTrue(ids.indexOf(newer.id) < ids.indexOf(older.id))
            assert.isTrue(listed.every((row) => row.kind === "inference"))
            assert.isTrue(listed.every((row, i) => i === 0 || (listed[i - 1] as TokenRow).createdAt >= row.createdAt))
            const access = yield* repo.list("access")
            assert.isFalse(access.some((row) => row.id === older.id || row.id === newer.id))
          }))

        it.effect("finds by exact id or by prefix (case-sensitive, % and _ literal, ambiguity visible)", () =>
          Effect.gen(function*() {
            const repo = yield* TokenRepo
            const a = tokenRow({ prefix: "tat_PfX123" })
            const b = tokenRow({ prefix: "tat_PfX999" })
            const pct = tokenRow({ prefix: "tat_50%off" })
            const under = tokenRow({ prefix: "tat_a_b000" })
            const otherKind = tokenRow({ kind: "inference", prefix: "tat_PfX555" })
            // An id that is itself the start of another token's prefix.
            const idLikePrefix = tokenRow({ id: "tat_PfX1", prefix: "tat_zzzzzz" })
            for (const row of [a, b, pct, under, otherKind, idLikePrefix]) yield* repo.insert(row)

            const ids = (rows: ReadonlyArray<TokenRow>) => rows.map((row) => row.id).sort()

            assert.deepStrictEqual(ids(yield* repo.findByIdOrPrefix("access", "tat_PfX")), ids([a, b]))
            assert.deepStrictEqual(ids(yield* repo.findByIdOrPrefix("access", "tat_PfX9")), [b.id])
            assert.deepStrictEqual(ids(yield* repo.findByIdOrPrefix("access", a.id)), [a.id])
            // Exact id wins over the prefix match it also is.
            assert.deepStrictEqual(ids(yield* repo.findByIdOrPrefix("access", "tat_PfX1")), [idLikePrefix.id])
            assert.deepStrictEqual(ids(yield* repo.findByIdOrPrefix("inference", "tat_PfX")), [otherKind.id])
            assert.deepStrictEqual(yield* repo.findByIdOrPrefix("access", "tat_pfx"), [])
            // LIKE wildcards are plain characters.
            assert.deepStrictEqual(yield* repo.findByIdOrPrefix("access", "tat%"), [])
            assert.deepStrictEqual(yield* repo.findByIdOrPrefix("access", "ta_"), [])
            assert.deepStrictEqual(ids(yield* repo.findByIdOrPrefix("access", "tat_50%")), [pct.id])
            assert.deepStrictEqual(ids(yield* repo.findByIdOrPrefix("access", "tat_a_")), [under.id])
            assert.deepStrictEqual(yield* repo.findByIdOrPrefix("access", ""), [])
          }))

        it.effect("revoke keeps the first revocation time", () =>
          Effect.gen(function*() {
            const repo = yield* TokenRepo
            const row = tokenRow()
            yield* repo.insert(row)
            const first = yield* repo.revoke(row.id, 5_000)
            assert.deepStrictEqual(first, Option.some({ ...row, revokedAt: 5_000 }))
            const second = yield* repo.revoke(row.id, 9_000)
            assert.deepStrictEqual(second, Option.some({ ...row, revokedAt: 5_000 }))
            assert.isTrue(Option.isNone(yield* repo.revoke("tok_unknown", 1)))
          }))

        it.effect("touchLastUsed only moves last use forward", () =>
          Effect.gen(function*() {
            const repo = yield* TokenRepo
            const a = tokenRow()
            const b = tokenRow({ lastUsedAt: 1_000 })
            yield* repo.insert(a)
            yield* repo.insert(b)
            const lastUsed = (id: string) =>
              repo.findById(id).pipe(Effect.map(Option.match({ onNone: () => undefined, onSome: (row) => row.lastUsedAt })))

            yield* repo.touchLastUsed([])
            yield* repo.touchLastUsed([{ id: a.id, at: 500 }, { id: b.id, at: 900 }, { id: "tok_gone", at: 1 }])
            assert.strictEqual(yield* lastUsed(a.id), 500)
            assert.strictEqual(yield* lastUsed(b.id), 1_000)

            yield* repo.touchLastUsed([{ id: a.id, at: 300 }, { id: b.id, at: 2_000 }])
            assert.strictEqual(yield* lastUsed(a.id), 500)
            assert.strictEqual(yield* lastUsed(b.id), 2_000)
          }))
      })

      describe("AuditRepo", () => {
        it.effect("pages newest first by (at, id) with a keyset cursor, and filters", () =>
          Effect.gen(function*() {
            const repo = yield* AuditRepo
            const base = 1_750_000_000_000
            const entry = (id: string, at: number, overrides: Partial<AuditRow> = {}): AuditRow => ({
              id,
              at: base + at,
              action: "token.created",
              actor: "cli token tat_abc",
              peer: "127.0.0.1",
              outcome: "success",
              detail: null,
              ...overrides
            })
            const rows = [
              entry("aud_01", 1),
              entry("aud_02", 2, { action: "connect.failure", actor: "password", outcome: "failure", peer: null }),
              entry("aud_03", 2, { actor: "Laptop ADMIN key", detail: "issued" }),
              entry("aud_04", 2),
              entry("aud_05", 3, { action: "connect.failure", actor: "password", outcome: "failure" }),
              entry("aud_06", 4, { actor: "100% real" }),
              entry("aud_07", 5, { actor: "a_b" })
            ]
            // Insert out of order: the order must come from the query, not insertion.
            for (const row of [...rows].reverse()) yield* repo.append(row)

            const expected = [...rows].sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : -1))
            const pages: Array<ReadonlyArray<AuditRow>> = []
            let before: { at: number; id: string } | undefined = undefined
            for (;;) {
              const page: ReadonlyArray<AuditRow> = yield* repo.list({
                limit: 3,
                since: base,
                ...(before !== undefined ? { before } : {})
              })
              if (page.length === 0) break
              pages.push(page)
              const last = page[page.length - 1] as AuditRow
              before = { at: last.at, id: last.id }
            }
            assert.deepStrictEqual(pages.map((page) => page.length), [3, 3, 1])
            assert.deepStrictEqual(pages.flat(), expected)

            const ids = (found: ReadonlyArray<AuditRow>) => found.map((row) => row.id)
            assert.deepStrictEqual(
              ids(yield* repo.list({ limit: 10, since: base, action: "connect.failure" })),
              ["aud_05", "aud_02"]
            )
            assert.deepStrictEqual(ids(yield* repo.list({ limit: 10, since: base, actor: "admin" })), ["aud_03"])
            assert.deepStrictEqual(ids(yield* repo.list({ limit: 10, since: base, actor: "PASS" })), ["aud_05", "aud_02"])
            assert.deepStrictEqual(ids(yield* repo.list({ limit: 10, since: base, actor: "0%" })), ["aud_06"])
            assert.deepStrictEqual(ids(yield* repo.list({ limit: 10, since: base, actor: "a_" })), ["aud_07"])
            assert.deepStrictEqual(ids(yield* repo.list({ limit: 10, since: base + 4 })), ["aud_07", "aud_06"])
            assert.deepStrictEqual(
              ids(yield* repo.list({ limit: 10, since: base, action: "token.created", before: { at: base + 2, id: "aud_04" } })),
              ["aud_03", "aud_01"]
            )
            assert.deepStrictEqual(yield* repo.list({ limit: 10, since: base, action: "password.changed" }), [])
          }))
      })

      describe("LockoutRepo", () => {
        const policy = { maxFailures: 5, windowMs: 60_000, lockMs: 300_000 } as const
        const t0 = 1_760_000_000_000

        it.effect("locks after maxFailures in the window until the lock expires", () =>
          Effect.gen(function*() {
            const repo = yield* LockoutRepo
            const address = "10.0.0.1"
            assert.deepStrictEqual(yield* repo.status(address, t0), { lockedUntil: null })
            for (let i = 1; i <= 4; i++) {
              assert.deepStrictEqual(yield* repo.recordFailure(address, t0 + i, policy), { failures: i, lockedUntil: null })
            }
            const lockedUntil = t0 + 5 + policy.lockMs
            assert.deepStrictEqual(yield* repo.recordFailure(address, t0 + 5, policy), { failures: 5, lockedUntil })
            assert.deepStrictEqual(yield* repo.status(address, t0 + 6), { lockedUntil })
            assert.deepStrictEqual(yield* repo.status(address, lockedUntil - 1), { lockedUntil })
            // Failing again while locked counts but does not extend the lock.
            assert.deepStrictEqual(yield* repo.recordFailure(address, t0 + 7, policy), { failures: 6, lockedUntil })
            // The lock ends at lockedUntil; the next failure starts a new window.
            assert.deepStrictEqual(yield* repo.status(address, lockedUntil), { lockedUntil: null })
            assert.deepStrictEqual(yield* repo.recordFailure(address, lockedUntil + 1, policy), {
              failures: 1,
              lockedUntil: null
            })
          }))

        it.effect("an expired window starts counting again", () =>
          Effect.gen(function*() {
            const repo = yield* LockoutRepo
            const address = "10.0.0.2"
            for (let i = 1; i <= 4; i++) yield* repo.recordFailure(address, t0, policy)
            assert.deepStrictEqual(yield* repo.recordFailure(address, t0 + policy.windowMs - 1, policy), {
              failures: 5,
              lockedUntil: t0 + policy.windowMs - 1 + policy.lockMs
            })

            const other = "10.0.0.3"
            for (let i = 1; i <= 4; i++) yield* repo.recordFailure(other, t0, policy)
            assert.deepStrictEqual(yield* repo.recordFailure(other, t0 + policy.windowMs, policy), {
              failures: 1,
              lockedUntil: null
            })
            assert.deepStrictEqual(yield* repo.status(other, t0 + policy.windowMs), { lockedUntil: null })
          }))

        it.effect("clear forgets an address", () =>
          Effect.gen(function*() {
            const repo = yield* LockoutRepo
            const address = "2001:db8::1"
            for (let i = 1; i <= 5; i++) yield* repo.recordFailure(address, t0, policy)
            assert.isNotNull((yield* repo.status(address, t0)).lockedUntil)
            yield* repo.clear(address)
            assert.deepStrictEqual(yield* repo.status(address, t0), { lockedUntil: null })
            assert.deepStrictEqual(yield* repo.recordFailure(address, t0, policy), { failures: 1, lockedUntil: null })
            yield* repo.clear("never.seen")
          }))

        it.effect("concurrent failures are each counted exactly once", () =>
          Effect.gen(function*() {
            const repo = yield* LockoutRepo
            const address = "10.9.9.9"
            const results = yield* Effect.all(
              Array.from({ length: 10 }, () => repo.recordFailure(address, t0, policy)),
              { concurrency: "unbounded" }
            )
            assert.deepStrictEqual(results.map((r) => r.failures).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
            // Exactly the fifth failure set the lock; all later ones saw it.
            assert.deepStrictEqual(
              results.filter((r) => r.lockedUntil !== null).map((r) => r.failures).sort((x, y) => x - y),
              [5, 6, 7, 8, 9, 10]
            )
            assert.deepStrictEqual(yield* repo.status(address, t0), { lockedUntil: t0 + policy.lockMs })
          }))
      })

      describe("SettingsRepo", () => {
        it.effect("get is none until set; set upserts value and time", () =>
          Effect.gen(function*() {
            const repo = yield* SettingsRepo
            const sql = yield* SqlClient.SqlClient
            assert.isTrue(Option.isNone(yield* repo.get("greeting")))
            yield* repo.set("greeting", "hello", 1_000)
            assert.deepStrictEqual(yield* repo.get("greeting"), Option.some("hello"))
            yield* repo.set("greeting", "hello again", 2_000)
            assert.deepStrictEqual(yield* repo.get("greeting"), Option.some("hello again"))
            const rows = yield* sql`SELECT updated_at FROM settings WHERE key = ${"greeting"}`
            assert.strictEqual(rows.length, 1)
            const decoded = yield* Schema.decodeUnknown(Schema.Struct({ updated_at: EpochMillis }))(rows[0])
            assert.strictEqual(decoded.updated_at, 2_000)
          }))
      })
    }
  )

repositorySuite("repositories on SQLite", sqliteTestLayer())

const postgres = await postgresProbe()
if (postgres.available) {
  repositorySuite("repositories on PostgreSQL", postgresTestLayer())
} else if (process.env["CI"]) {
  describe("repositories on PostgreSQL", () => {
    it("needs a reachable PostgreSQL server in CI", () => {
      throw new Error(`PostgreSQL is unreachable, so its suite cannot run: ${postgres.reason}`)
    })
  })
} else {
  const line = "=".repeat(78)
  console.warn(
    `\n${line}\n  PostgreSQL suite SKIPPED: ${postgres.reason}\n` +
      `  Start it with: pg_ctlcluster --skip-systemctl-redirect <version> main start\n` +
      `  (In CI, where CI is set, this is a failure.)\n${line}\n`
  )
  describe.skip("repositories on PostgreSQL (SKIPPED: server unreachable)", () => {
    it("skipped", () => {})
  })
}

describe("StorageLive", () => {
  const build = (dir: string, env: ReadonlyArray<readonly [string, string]>) =>
    Effect.gen(function*() {
      const context = yield* Layer.build(StorageLive.pipe(Layer.provide(TetherHome.fixed(dir))))
      const info = Context.get(context, DatabaseInfo)
      const sql = Context.get(context, SqlClient.SqlClient)
      const tables = yield* Effect.forEach(TABLES, (table) => sql`SELECT * FROM ${sql(table)}`)
      return { info, tables: tables.length }
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env))))

  it.scopedLive("uses SQLite at $TETHER_HOME/tether.db by default, creating the directory", () =>
    Effect.gen(function*() {
      const root = yield* tempDir()
      const home = NodePath.join(root, "nested", "home")
      const result = yield* build(home, [])
      const filename = NodePath.join(home, "tether.db")
      assert.deepStrictEqual(result.info, { kind: "sqlite", location: filename })
      assert.strictEqual(result.tables, TABLES.length)
      assert.isTrue(NodeFs.existsSync(filename))
    }))

  it.scopedLive("treats an empty TETHER_DATABASE_URL as unset", () =>
    Effect.gen(function*() {
      const home = yield* tempDir()
      const result = yield* build(home, [["TETHER_DATABASE_URL", "  "]])
      assert.strictEqual(result.info.kind, "sqlite")
    }))

  it.scopedLive("rejects a TETHER_DATABASE_URL that is not postgres:// with a clear ConfigError", () =>
    Effect.gen(function*() {
      const home = yield* tempDir()
      for (const url of ["mysql://root@localhost/tether", "sqlite:///tmp/tether.db", "/var/lib/tether.db"]) {
        const error = yield* Effect.flip(build(home, [["TETHER_DATABASE_URL", url]]))
        assert.isTrue(ConfigError.isConfigError(error), String(error))
        assert.include(String(error), "TETHER_DATABASE_URL must be a postgres:// URL; unset it to use SQLite")
        assert.notInclude(String(error), "root@localhost")
      }
      assert.isFalse(NodeFs.existsSync(NodePath.join(home, "tether.db")))
    }))

  it.scopedLive.skipIf(!postgres.available)("uses PostgreSQL for a postgres:// URL and masks its password", () =>
    Effect.gen(function*() {
      const url = new URL(yield* freshPostgresDatabase)
      url.password = "hunter2"
      const home = yield* tempDir()
      const result = yield* build(home, [["TETHER_DATABASE_URL", url.toString()]])
      assert.strictEqual(result.info.kind, "postgres")
      assert.notInclude(result.info.location, "hunter2")
      assert.include(result.info.location, "postgres:***@127.0.0.1")
      assert.strictEqual(result.tables, TABLES.length)
      assert.isFalse(NodeFs.existsSync(NodePath.join(home, "tether.db")))
    }))

  it("maskDatabaseUrl hides passwords in userinfo and query", () => {
    assert.strictEqual(maskDatabaseUrl("postgres://user:pw@host/db"), "postgres://user:***@host/db")
    assert.strictEqual(maskDatabaseUrl("postgresql://user@host:5432/db"), "postgresql://user@host:5432/db")
    assert.notInclude(maskDatabaseUrl("postgres://host/db?password=s3cret"), "s3cret")
  })
})
