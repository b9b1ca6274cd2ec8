/**
 * Throwaway databases for tests: a SQLite file in a fresh temp dir, or a
 * fresh PostgreSQL database on the local server. Both are migrated through
 * `storageLayerFor` (the production code path) and removed when the layer's
 * scope closes.
 *
 * PostgreSQL: 127.0.0.1:5432, user postgres, trust auth. New databases are
 * created from a connection to the existing database `test`
 * (override with TETHER_TEST_PG_ADMIN_URL).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { type Storage, type StorageError, storageLayerFor } from "../../src/layers/storage.js"

export const postgresAdminUrl: string = process.env["TETHER_TEST_PG_ADMIN_URL"] ??
  "postgres://postgres@127.0.0.1:5432/test"

/** A fresh temp dir, removed (recursively) when the scope closes. */
export const tempDir = (prefix = "tether-test-"): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), prefix))),
    (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
  )

/** Storage on a SQLite file `tether.db` in a fresh temp dir. */
export const sqliteTestLayer = (): Layer.Layer<Storage, StorageError> =>
  Layer.unwrapScoped(
    Effect.map(tempDir(), (dir) => storageLayerFor({ kind: "sqlite", filename: NodePath.join(dir, "tether.db") }))
  )

const withUrlDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/**
 * Creates `tether_test_<random>` and returns its URL; drops it (even with
 * connections still open) when the scope closes.
 */
export const freshPostgresDatabase: Effect.Effect<string, SqlError, Scope.Scope> = Effect.gen(function*() {
  const admin = yield* PgClient.make({ url: Redacted.make(postgresAdminUrl), connectTimeout: Duration.seconds(3) })
  const name = `tether_test_${NodeCrypto.randomBytes(6).toString("hex")}`
  yield* Effect.acquireRelease(
    admin`CREATE DATABASE ${admin(name)}`,
    () =>
      admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`.pipe(
        Effect.catchTag("SqlError", (error) => Effect.logWarning(`could not drop test database ${name}`, error))
      )
  )
  return withUrlDatabase(postgresAdminUrl, name)
}).pipe(Effect.provide(Reactivity.layer))

/** Storage on a fresh PostgreSQL database, dropped afterwards. */
export const postgresTestLayer = (): Layer.Layer<Storage, StorageError> =>
  Layer.unwrapScoped(Effect.map(freshPostgresDatabase, (url) => storageLayerFor({ kind: "postgres", url })))

/** Whether the test PostgreSQL server accepts connections; the reason when it does not. */
export const postgresProbe = (): Promise<{ readonly available: true } | { readonly available: false; readonly reason: string }> =>
  PgClient.make({ url: Redacted.make(postgresAdminUrl), connectTimeout: Duration.seconds(2) }).pipe(
    Effect.flatMap((sql) => sql`SELECT 1`),
    Effect.scoped,
    Effect.provide(Reactivity.layer),
    Effect.as({ available: true } as const),
    Effect.catchAllCause((cause) =>
      Effect.succeed({
        available: false,
        reason: `${postgresAdminUrl}: ${
          cause._tag === "Fail" && cause.error.cause instanceof Error ? cause.error.cause.message : String(cause)
        }`
      } as const)
    ),
    Effect.runPromise
  )

export const postgresAvailable = (): Promise<boolean> => postgresProbe().then((probe) => probe.available)
