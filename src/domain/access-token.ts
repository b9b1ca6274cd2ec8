/** Management access tokens as the API shows them (never the secret, except once at creation). */
import * as Schema from "effect/Schema"
import { Scope } from "./scope.js"

export const TokenStatus = Schema.Literal("active", "expired", "revoked")
export type TokenStatus = typeof TokenStatus.Type

export const TokenName = Schema.String.pipe(Schema.trimmed(), Schema.minLength(1), Schema.maxLength(100))

export const ExpiresInDays = Schema.Int.pipe(Schema.between(1, 3650))

export class AccessTokenInfo extends Schema.Class<AccessTokenInfo>("AccessTokenInfo")({
  id: Schema.String,
  name: Schema.String,
  /** `tat_` plus the first characters of the secret: enough to recognise it, useless to use it. */
  prefix: Schema.String,
  scope: Scope,
  status: TokenStatus,
  createdAt: Schema.DateTimeUtc,
  lastUsedAt: Schema.NullOr(Schema.DateTimeUtc),
  expiresAt: Schema.NullOr(Schema.DateTimeUtc),
  revokedAt: Schema.NullOr(Schema.DateTimeUtc),
  createdBy: Schema.String
}) {}

/** Returned exactly once, when a token is created. */
export class CreatedAccessToken extends Schema.Class<CreatedAccessToken>("CreatedAccessToken")({
  token: Schema.Redacted(Schema.String),
  info: AccessTokenInfo
}) {}

export class CreateTokenRequest extends Schema.Class<CreateTokenRequest>("CreateTokenRequest")({
  name: TokenName,
  scope: Schema.optionalWith(Scope, { default: () => "read" as const }),
  expiresInDays: Schema.optional(ExpiresInDays)
}) {}

export class ConnectRequest extends Schema.Class<ConnectRequest>("ConnectRequest")({
  password: Schema.Redacted(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1024))),
  name: Schema.optional(TokenName),
  scope: Schema.optionalWith(Scope, { default: () => "admin" as const }),
  expiresInDays: Schema.optional(ExpiresInDays)
}) {}

export class Whoami extends Schema.Class<Whoami>("Whoami")({
  tokenId: Schema.String,
  name: Schema.String,
  prefix: Schema.String,
  scope: Scope,
  createdAt: Schema.DateTimeUtc,
  expiresAt: Schema.NullOr(Schema.DateTimeUtc),
  server: Schema.Struct({ version: Schema.String })
}) {}

export class RevokedToken extends Schema.Class<RevokedToken>("RevokedToken")({
  token: AccessTokenInfo,
  /** True when the token had been revoked before this request; nothing changed. */
  alreadyRevoked: Schema.Boolean
}) {}
