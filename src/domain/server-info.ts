import * as Schema from "effect/Schema"

export const DatabaseKind = Schema.Literal("sqlite", "postgres")
export type DatabaseKind = typeof DatabaseKind.Type

export class VersionInfo extends Schema.Class<VersionInfo>("VersionInfo")({
  name: Schema.Literal("tether"),
  version: Schema.String,
  apiVersion: Schema.Int
}) {}

export class Health extends Schema.Class<Health>("Health")({ status: Schema.Literal("ok") }) {}

export class ServerStatus extends Schema.Class<ServerStatus>("ServerStatus")({
  version: Schema.String,
  pid: Schema.Int,
  startedAt: Schema.DateTimeUtc,
  uptimeSeconds: Schema.Number,
  database: DatabaseKind,
  listen: Schema.String
}) {}
