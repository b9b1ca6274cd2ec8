/**
 * Hosts, sessions, their event logs and the per-host command queue of the
 * runner tunnel. Times are epoch milliseconds in BIGINT columns; structured
 * values (harness lists, argument lists, events, commands) are JSON in TEXT.
 *
 * - `sessions.last_seq` is the seq of the newest stored event and
 *   `sessions.last_rseq` the highest runner sequence stored (both 0 when
 *   none); they are updated in the transaction that appends the events.
 * - `hosts.last_command_seq` is the last `commandSeq` handed out for the
 *   host. It only grows, so a seq is never reused even after the commands of
 *   a deleted session are removed (a runner that already acted on a seq would
 *   skip a new command carrying it).
 * - `host_commands.session_id` has no foreign key: `SessionRepo.delete`
 *   removes a session's commands in its transaction.
 *
 * As in 0001, ids and host names compare with the "C" collation on
 * PostgreSQL (byte order, like SQLite's BINARY), so ordering and keyset
 * pagination agree on both databases.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { idTextType } from "./id-text.js"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const idText = idTextType(sql)

  yield* sql`
    CREATE TABLE hosts (
      id ${idText} PRIMARY KEY,
      name ${idText} NOT NULL UNIQUE,
      version TEXT NULL,
      harnesses TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      last_seen_at BIGINT NULL,
      connected_at BIGINT NULL,
      last_command_seq INT NOT NULL DEFAULT 0,
      created_by TEXT NOT NULL
    )`

  yield* sql`
    CREATE TABLE sessions (
      id ${idText} PRIMARY KEY,
      host_id ${idText} NOT NULL REFERENCES hosts (id),
      harness TEXT NOT NULL,
      cwd TEXT NOT NULL,
      args TEXT NOT NULL,
      title TEXT NULL,
      status TEXT NOT NULL,
      status_reason TEXT NULL,
      exit_code INT NULL,
      archived INT NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      last_seq INT NOT NULL DEFAULT 0,
      last_rseq INT NOT NULL DEFAULT 0,
      forked_from ${idText} NULL,
      forked_up_to_seq INT NULL,
      created_by TEXT NOT NULL
    )`
  yield* sql`CREATE INDEX sessions_status_idx ON sessions (status)`
  yield* sql`CREATE INDEX sessions_host_id_idx ON sessions (host_id)`
  yield* sql`CREATE INDEX sessions_harness_idx ON sessions (harness)`
  yield* sql`CREATE INDEX sessions_created_at_id_idx ON sessions (created_at, id)`

  yield* sql`
    CREATE TABLE session_events (
      session_id ${idText} NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
      seq INT NOT NULL,
      at BIGINT NOT NULL,
      type TEXT NOT NULL,
      payload TEXT NOT NULL,
      PRIMARY KEY (session_id, seq)
    )`

  yield* sql`
    CREATE TABLE host_commands (
      host_id ${idText} NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
      command_seq INT NOT NULL,
      session_id ${idText} NOT NULL,
      type TEXT NOT NULL,
      payload TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      acked_at BIGINT NULL,
      PRIMARY KEY (host_id, command_seq)
    )`
  yield* sql`CREATE INDEX host_commands_session_id_idx ON host_commands (session_id)`
})
