/**
 * Where each terminal lives when several server instances share one
 * database (see src/services/terminal/TerminalHomes.ts).
 *
 * - `server_instances`: every instance with `TETHER_INSTANCE_URL` set writes
 *   its URL and a heartbeat (`seen_at`, epoch ms) every few seconds.
 * - `terminal_homes`: the instance that last took a session's runner link
 *   (and so holds its ring, mirror and transcript). Rows go with their session.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { idTextType } from "./id-text.js"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const idText = idTextType(sql)

  yield* sql`
    CREATE TABLE server_instances (
      url ${idText} PRIMARY KEY,
      seen_at BIGINT NOT NULL
    )`

  yield* sql`
    CREATE TABLE terminal_homes (
      session_id ${idText} PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
      instance_url ${idText} NOT NULL,
      claimed_at BIGINT NOT NULL
    )`
})
