/**
 * CommandQueue: the durable per-host queue of commands for the runner
 * tunnel (`host_commands`).
 *
 * Every command gets the host's next `commandSeq` (1, 2, 3 …; never reused,
 * see migration 0002). It stays pending until the runner acknowledges it, so
 * input sent while a host is offline, or lost with a dropped tunnel, is
 * delivered in order on the next `Connect` (see `domain/rpc/tunnel.ts`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { RunnerCommand } from "../../domain/rpc/tunnel.js"
import { column, EpochMillis, NullableEpochMillis } from "../storage/columns.js"

/** `Omit` applied to each member of a union (plain `Omit` merges the members into one). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** A command before the queue numbers it. */
export type CommandDraft = DistributiveOmit<RunnerCommand, "commandSeq">

export interface QueuedCommand {
  readonly command: RunnerCommand
  /** When it was enqueued (epoch ms). */
  readonly createdAt: number
}

/** A queued command as stored: the whole command (its commandSeq included) as JSON in `payload`. */
const CommandRecord = Schema.Struct({
  hostId: column("host_id", Schema.String),
  commandSeq: column("command_seq", Schema.Int),
  sessionId: column("session_id", Schema.String),
  type: Schema.String,
  command: column("payload", Schema.parseJson(RunnerCommand)),
  createdAt: column("created_at", EpochMillis),
  ackedAt: column("acked_at", NullableEpochMillis)
})

export class CommandQueue extends Effect.Service<CommandQueue>()("tether/CommandQueue", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // Takes the host's next seq. The UPDATE holds the host row until commit
    // (on PostgreSQL a row lock; on SQLite it makes this transaction the
    // single writer), so concurrent enqueues for one host get 1, 2, 3 …
    const nextSeq = SqlSchema.findOne({
      Request: Schema.String,
      Result: Schema.Struct({ commandSeq: column("last_command_seq", Schema.Int) }),
      execute: (hostId) =>
        sql`UPDATE hosts SET last_command_seq = last_command_seq + 1 WHERE id = ${hostId} RETURNING last_command_seq`
    })

    const insertRecord = SqlSchema.void({
      Request: CommandRecord,
      execute: (record) => sql`INSERT INTO host_commands ${sql.insert(record)}`
    })

    const findPending = SqlSchema.findAll({
      Request: Schema.String,
      Result: CommandRecord,
      execute: (hostId) =>
        sql`SELECT * FROM host_commands WHERE host_id = ${hostId} AND acked_at IS NULL ORDER BY command_seq`
    })

    const findPendingForSession = SqlSchema.findAll({
      Request: Schema.String,
      Result: CommandRecord,
      execute: (sessionId) =>
        sql`SELECT * FROM host_commands WHERE session_id = ${sessionId} AND acked_at IS NULL
            ORDER BY host_id, command_seq`
    })

    /**
     * Queues a command for a host, numbering it with the host's next
     * commandSeq (one transaction). The host must exist (a defect otherwise).
     */
    const enqueue: (hostId: string, draft: CommandDraft, now: number) => Effect.Effect<RunnerCommand> = Effect.fn(
      "CommandQueue.enqueue"
    )(
      function*(hostId: string, draft: CommandDraft, now: number) {
        const seq = yield* nextSeq(hostId)
        if (Option.isNone(seq)) return yield* Effect.dieMessage(`CommandQueue.enqueue: unknown host ${hostId}`)
        const command: RunnerCommand = { ...draft, commandSeq: seq.value.commandSeq }
        yield* insertRecord({
          hostId,
          commandSeq: command.commandSeq,
          sessionId: command.sessionId,
          type: command.type,
          command,
          createdAt: now,
          ackedAt: null
        })
        return command
      },
      sql.withTransaction,
      Effect.orDie
    )

    /** The host's unacknowledged commands, in commandSeq order. */
    const pending: (hostId: string) => Effect.Effect<ReadonlyArray<RunnerCommand>> = Effect.fn("CommandQueue.pending")(
      function*(hostId: string) {
        const records = yield* findPending(hostId)
        return records.map((record) => record.command)
      },
      Effect.orDie
    )

    /** Marks a command acknowledged. True when it was pending; false when unknown or already acknowledged. */
    const ack: (hostId: string, commandSeq: number, now: number) => Effect.Effect<boolean> = Effect.fn(
      "CommandQueue.ack"
    )(
      function*(hostId: string, commandSeq: number, now: number) {
        const acked = yield* sql`UPDATE host_commands SET acked_at = ${now}
                                 WHERE host_id = ${hostId} AND command_seq = ${commandSeq} AND acked_at IS NULL
                                 RETURNING command_seq`
        return acked.length > 0
      },
      Effect.orDie
    )

    /** The session's unacknowledged commands with when they were queued, in commandSeq order. */
    const pendingForSession: (sessionId: string) => Effect.Effect<ReadonlyArray<QueuedCommand>> = Effect.fn(
      "CommandQueue.pendingForSession"
    )(
      function*(sessionId: string) {
        const records = yield* findPendingForSession(sessionId)
        return records.map((record) => ({ command: record.command, createdAt: record.createdAt }))
      },
      Effect.orDie
    )

    /**
     * Drops the session's undelivered commands (the session finished, so
     * they no longer apply). Returns how many were dropped.
     */
    const dropForSession: (sessionId: string) => Effect.Effect<number> = Effect.fn("CommandQueue.dropForSession")(
      function*(sessionId: string) {
        const dropped = yield* sql`DELETE FROM host_commands
                                   WHERE session_id = ${sessionId} AND acked_at IS NULL
                                   RETURNING command_seq`
        return dropped.length
      },
      Effect.orDie
    )

    return { enqueue, pending, ack, pendingForSession, dropForSession } as const
  })
}) {}
