/**
 * HostRepo: the `hosts` table, one row per machine running `tether host`.
 *
 * A host is known by its name: registering a name again (the runner
 * reconnecting, possibly upgraded) keeps the host's id and refreshes what it
 * reported. `connectedAt` is set while a tunnel is up and NULL after it drops.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { HarnessInfo } from "../../domain/host.js"
import { column, EpochMillis, NullableEpochMillis } from "../storage/columns.js"

export const HostRow = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  /** The runner's version, as it reported it. */
  version: Schema.NullOr(Schema.String),
  harnesses: Schema.Array(HarnessInfo),
  createdAt: Schema.Number,
  lastSeenAt: Schema.NullOr(Schema.Number),
  /** When the current tunnel came up; null while the host is offline. */
  connectedAt: Schema.NullOr(Schema.Number),
  createdBy: Schema.String
})
export type HostRow = typeof HostRow.Type

/** A HostRow as stored: snake_case columns, BIGINT times, harnesses as JSON text. */
const HostRecord = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  version: Schema.NullOr(Schema.String),
  harnesses: Schema.parseJson(Schema.Array(HarnessInfo)),
  createdAt: column("created_at", EpochMillis),
  lastSeenAt: column("last_seen_at", NullableEpochMillis),
  connectedAt: column("connected_at", NullableEpochMillis),
  createdBy: column("created_by", Schema.String)
})

export interface RegisterHost {
  /** Used only when no host has this name yet. */
  readonly id: string
  readonly name: string
  readonly version: string | null
  readonly harnesses: ReadonlyArray<HarnessInfo>
  readonly now: number
  /** Who first registered the host (e.g. the token's name); kept on later registrations. */
  readonly createdBy: string
}

export class HostRepo extends Effect.Service<HostRepo>()("tether/HostRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // One statement, so two runners registering the same name at once end up
    // with one row (the second takes the update branch).
    const upsertRecord = SqlSchema.single({
      Request: HostRecord,
      Result: HostRecord,
      execute: (record) =>
        sql`INSERT INTO hosts ${sql.insert(record)}
            ON CONFLICT (name) DO UPDATE SET
              version = excluded.version,
              harnesses = excluded.harnesses,
              last_seen_at = excluded.last_seen_at,
              connected_at = excluded.connected_at
            RETURNING *`
    })

    const findRecordById = SqlSchema.findOne({
      Request: Schema.String,
      Result: HostRecord,
      execute: (id) => sql`SELECT * FROM hosts WHERE id = ${id}`
    })

    const findRecordByName = SqlSchema.findOne({
      Request: Schema.String,
      Result: HostRecord,
      execute: (name) => sql`SELECT * FROM hosts WHERE name = ${name}`
    })

    const listRecords = SqlSchema.findAll({
      Request: Schema.Void,
      Result: HostRecord,
      execute: () => sql`SELECT * FROM hosts ORDER BY name`
    })

    /**
     * Records a connecting host: inserts it, or, when a host of that name
     * exists, keeps its id (and creation fields) and updates its version and
     * harnesses. Either way the host is connected and seen at `now`.
     */
    const register: (input: RegisterHost) => Effect.Effect<HostRow> = Effect.fn("HostRepo.register")(
      function*(input: RegisterHost) {
        return yield* upsertRecord({
          id: input.id,
          name: input.name,
          version: input.version,
          harnesses: input.harnesses,
          createdAt: input.now,
          lastSeenAt: input.now,
          connectedAt: input.now,
          createdBy: input.createdBy
        })
      },
      Effect.orDie
    )

    /** Records that the host was heard from at `now` (a heartbeat, a push). */
    const markSeen: (id: string, now: number) => Effect.Effect<void> = Effect.fn("HostRepo.markSeen")(
      function*(id: string, now: number) {
        yield* sql`UPDATE hosts SET last_seen_at = ${now} WHERE id = ${id}`
      },
      Effect.orDie
    )

    /** The host's tunnel dropped at `now`. */
    const markDisconnected: (id: string, now: number) => Effect.Effect<void> = Effect.fn("HostRepo.markDisconnected")(
      function*(id: string, now: number) {
        yield* sql`UPDATE hosts SET connected_at = NULL, last_seen_at = ${now} WHERE id = ${id}`
      },
      Effect.orDie
    )

    const get: (id: string) => Effect.Effect<Option.Option<HostRow>> = Effect.fn("HostRepo.get")(
      function*(id: string) {
        return yield* findRecordById(id)
      },
      Effect.orDie
    )

    /** The host with exactly this id, or else exactly this name. */
    const findByIdOrName: (idOrName: string) => Effect.Effect<Option.Option<HostRow>> = Effect.fn(
      "HostRepo.findByIdOrName"
    )(
      function*(idOrName: string) {
        if (idOrName.length === 0) return Option.none()
        const byId = yield* findRecordById(idOrName)
        if (Option.isSome(byId)) return byId
        return yield* findRecordByName(idOrName)
      },
      Effect.orDie
    )

    /** Every host, by name. */
    const list: () => Effect.Effect<ReadonlyArray<HostRow>> = Effect.fn("HostRepo.list")(
      function*() {
        return yield* listRecords(undefined)
      },
      Effect.orDie
    )

    return { register, markSeen, markDisconnected, get, findByIdOrName, list } as const
  })
}) {}
