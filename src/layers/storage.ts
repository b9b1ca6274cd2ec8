/**
 * Storage: the SqlClient every repository uses, with the schema migrated.
 *
 * Chosen by configuration while the layer is built:
 * - `TETHER_DATABASE_URL=postgres://…` (or `postgresql://…`): PostgreSQL;
 * - unset: SQLite in `$TETHER_HOME/tether.db`;
 * - anything else: a ConfigError naming the variable.
 *
 * `storageLayerFor` builds either kind from explicit options; tests use it
 * directly and `StorageLive` goes through it, so there is one code path.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import type { MigrationError } from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as PgMigrator from "@effect/sql-pg/PgMigrator"
import * as NodeFs from "node:fs"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqliteMigrator from "@effect/sql-sqlite-node/SqliteMigrator"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as NodePath from "node:path"
import { TetherHome } from "../services/home/TetherHome.js"
import { DatabaseInfo, maskDatabaseUrl } from "../services/storage/DatabaseInfo.js"
import { loader } from "../services/storage/migrations/index.js"

export const DATABASE_URL_VARIABLE = "TETHER_DATABASE_URL"
export const SQLITE_FILENAME = "tether.db"

/**
 * Keeps trying the first PostgreSQL connection for about five seconds (the
 * server may still be starting): waits of 100 ms doubling up to 1 s.
 */
const PG_CONNECT_RETRY = Schedule.exponential(Duration.millis(100)).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(1))),
  Schedule.upTo(Duration.seconds(5)),
  Schedule.tapInput((error: SqlError) =>
    Effect.logWarning(`PostgreSQL is not reachable yet (${error.message}); retrying`)
  )
)

export type StorageOptions =
  | { readonly kind: "sqlite"; readonly filename: string }
  | { readonly kind: "postgres"; readonly url: string | Redacted.Redacted<string> }

export type Storage = SqlClient.SqlClient | DatabaseInfo
export type StorageError = SqlError | MigrationError

const isPostgresUrl = (url: string): boolean => /^postgres(?:ql)?:\/\//i.test(url)

const sqliteLayer = (filename: string): Layer.Layer<Storage, StorageError> => {
  // SqliteClient.layer declares a ConfigError it cannot produce from plain options;
  // failing to open the file is already a defect inside it.
  // The database holds password and token hashes: create it 0600 (SQLite gives
  // its -wal/-shm files the same mode) and tighten an existing looser file.
  const privateFile = Layer.effectDiscard(Effect.sync(() => {
    if (filename === ":memory:") return
    NodeFs.closeSync(NodeFs.openSync(filename, "a", 0o600))
    NodeFs.chmodSync(filename, 0o600)
  }))
  const client = Layer.orDie(SqliteClient.layer({ filename })).pipe(Layer.provide(privateFile))
  // One connection serves the whole process, so pragmas set once hold for every query.
  // They must run before the migrations, which run inside a transaction (where
  // `foreign_keys` and `journal_mode` cannot change).
  const pragmas = Layer.effectDiscard(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("PRAGMA journal_mode = WAL")
      yield* sql.unsafe("PRAGMA busy_timeout = 5000")
      yield* sql.unsafe("PRAGMA foreign_keys = ON")
    })
  )
  const migrated = SqliteMigrator.layer({ loader }).pipe(Layer.provide(NodeContext.layer))
  const info = Layer.succeed(DatabaseInfo, DatabaseInfo.of({ kind: "sqlite", location: filename }))
  return Layer.mergeAll(migrated, info).pipe(Layer.provideMerge(pragmas.pipe(Layer.provideMerge(client))))
}

const postgresLayer = (url: Redacted.Redacted<string>): Layer.Layer<Storage, StorageError> => {
  const client = PgClient.layer({ url }).pipe(Layer.retry(PG_CONNECT_RETRY))
  const migrated = PgMigrator.layer({ loader }).pipe(Layer.provide(NodeContext.layer))
  const info = Layer.succeed(
    DatabaseInfo,
    DatabaseInfo.of({ kind: "postgres", location: maskDatabaseUrl(Redacted.value(url)) })
  )
  return Layer.mergeAll(migrated, info).pipe(Layer.provideMerge(client))
}

/** Storage for an explicit database: SQLite file or PostgreSQL URL. Migrates at build. */
export const storageLayerFor = (options: StorageOptions): Layer.Layer<Storage, StorageError> => {
  switch (options.kind) {
    case "sqlite":
      return sqliteLayer(options.filename)
    case "postgres":
      return postgresLayer(typeof options.url === "string" ? Redacted.make(options.url) : options.url)
  }
}

/** Storage chosen from `TETHER_DATABASE_URL` (see the module comment). */
export const StorageLive: Layer.Layer<Storage, ConfigError.ConfigError | StorageError, TetherHome> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const configured = yield* Config.redacted(DATABASE_URL_VARIABLE).pipe(Config.option)
    const url = Option.filter(
      Option.map(configured, (value) => Redacted.value(value).trim()),
      (value) => value !== ""
    )
    if (Option.isSome(url)) {
      if (!isPostgresUrl(url.value)) {
        return yield* Effect.fail(
          ConfigError.InvalidData(
            [DATABASE_URL_VARIABLE],
            `${DATABASE_URL_VARIABLE} must be a postgres:// URL; unset it to use SQLite`
          )
        )
      }
      return storageLayerFor({ kind: "postgres", url: Redacted.make(url.value) })
    }
    const home = yield* TetherHome
    const dir = yield* home.ensure
    return storageLayerFor({ kind: "sqlite", filename: NodePath.join(dir, SQLITE_FILENAME) })
  })
)
