/**
 * The first schema: access tokens, the audit log, failed-connect counters and
 * settings. Every time is epoch milliseconds in a BIGINT column.
 *
 * The DDL is shared by SQLite and PostgreSQL. The one difference: on
 * PostgreSQL, ids compare with the "C" collation, i.e. byte by byte like
 * SQLite's BINARY, so ordering and keyset pagination over (at, id) agree on
 * both databases whatever the cluster's locale.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { idTextType } from "./id-text.js"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const idText = idTextType(sql)

  yield* sql`
    CREATE TABLE access_tokens (
      id ${idText} PRIMARY KEY,
      kind TEXT NOT NULL CHECK (kind IN ('access', 'inference')),
      token_hash TEXT NOT NULL UNIQUE,
      prefix TEXT NOT NULL,
      name TEXT NOT NULL,
      scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
      created_at BIGINT NOT NULL,
      last_used_at BIGINT NULL,
      expires_at BIGINT NULL,
      revoked_at BIGINT NULL,
      created_by TEXT NOT NULL
    )`
  yield* sql`CREATE INDEX access_tokens_kind_prefix_idx ON access_tokens (kind, prefix)`

  yield* sql`
    CREATE TABLE audit_log (
      id ${idText} PRIMARY KEY,
      at BIGINT NOT NULL,
      action TEXT NOT NULL,
      actor TEXT NOT NULL,
      peer TEXT NULL,
      outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
      detail TEXT NULL
    )`
  yield* sql`CREATE INDEX audit_log_at_id_idx ON audit_log (at, id)`

  yield* sql`
    CREATE TABLE connect_failures (
      address TEXT PRIMARY KEY,
      failures INT NOT NULL,
      window_started_at BIGINT NOT NULL,
      locked_until BIGINT NULL
    )`

  yield* sql`
    CREATE TABLE settings (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL,
      updated_at BIGINT NOT NULL
    )`
})
