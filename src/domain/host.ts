/** Hosts (machines running `tether host`) and the harnesses they offer. */
import * as Schema from "effect/Schema"

export const HarnessCapability = Schema.Literal("streaming", "interrupt", "approvals", "resume", "fork", "terminal")
export type HarnessCapability = typeof HarnessCapability.Type

export const HarnessName = Schema.String.pipe(Schema.pattern(/^[a-z][a-z0-9-]{0,31}$/))

export class HarnessInfo extends Schema.Class<HarnessInfo>("HarnessInfo")({
  name: HarnessName,
  capabilities: Schema.Array(HarnessCapability),
  /** Whether it can run on that host now (installed, credentials found …). */
  ready: Schema.Boolean,
  /** Why it is not ready, or what it will use (a CLI's path, a base URL …). */
  detail: Schema.NullOr(Schema.String)
}) {}

export const HostName = Schema.String.pipe(Schema.trimmed(), Schema.minLength(1), Schema.maxLength(63), Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/))

export class HostInfo extends Schema.Class<HostInfo>("HostInfo")({
  id: Schema.String,
  name: Schema.String,
  online: Schema.Boolean,
  lastSeenAt: Schema.NullOr(Schema.DateTimeUtc),
  version: Schema.NullOr(Schema.String),
  harnesses: Schema.Array(HarnessInfo)
}) {}
