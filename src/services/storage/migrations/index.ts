/**
 * Every schema migration, in order. Keys must start with a number
 * (`0002_something`): `Migrator.fromRecord` silently skips any other key.
 * Migrations are bundled into the CLI, so they are imported here rather than
 * loaded from the file system.
 */
import * as Migrator from "@effect/sql/Migrator"
import migration0001 from "./0001_initial.js"
import migration0002 from "./0002_sessions.js"
import migration0003 from "./0003_gateway.js"
import migration0004 from "./0004_terminal_homes.js"

export const migrations = {
  "0001_initial": migration0001,
  "0002_sessions": migration0002,
  "0003_gateway": migration0003,
  "0004_terminal_homes": migration0004
} as const

export const loader: Migrator.Loader = Migrator.fromRecord(migrations)

/** The table recording which migrations ran (the @effect/sql default). */
export const MIGRATIONS_TABLE = "effect_sql_migrations"
