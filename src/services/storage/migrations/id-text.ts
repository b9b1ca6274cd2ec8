/**
 * The column type of ids in every migration: TEXT, with PostgreSQL's "C"
 * collation so ids sort and compare bytewise on both databases (as SQLite
 * does by default).
 */
import type * as SqlClient from "@effect/sql/SqlClient"

export const idTextType = (sql: SqlClient.SqlClient) =>
  sql.onDialectOrElse({
    pg: () => sql.literal(`TEXT COLLATE "C"`),
    orElse: () => sql.literal("TEXT")
  })
