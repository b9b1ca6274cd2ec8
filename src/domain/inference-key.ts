/**
 * Inference keys (`tsk_…`) as the API shows them: a TokenStore token of kind
 * "inference", optionally restricted to model globs. The secret is returned
 * once, by `POST /v1/keys`; the wire shapes here are a contract the client
 * config writers code against, so they are kept exactly.
 */
import * as Schema from "effect/Schema"
import { ExpiresInDays, TokenName } from "./access-token.js"
import { ModelGlob } from "./model-glob.js"

export const InferenceKeyInfo = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  /** `tsk_` and the first characters of the secret. */
  prefix: Schema.String,
  /** Model globs the key may use; null: every model. */
  models: Schema.NullOr(Schema.Array(Schema.String)),
  createdAt: Schema.DateTimeUtc,
  expiresAt: Schema.NullOr(Schema.DateTimeUtc),
  lastUsedAt: Schema.NullOr(Schema.DateTimeUtc),
  revokedAt: Schema.NullOr(Schema.DateTimeUtc)
}).annotations({ identifier: "InferenceKeyInfo" })
export type InferenceKeyInfo = typeof InferenceKeyInfo.Type

export const CreateKeyRequest = Schema.Struct({
  name: TokenName,
  models: Schema.optional(Schema.Array(ModelGlob).pipe(Schema.minItems(1), Schema.maxItems(100))),
  expiresInDays: Schema.optional(ExpiresInDays)
}).annotations({ identifier: "CreateKeyRequest" })
export type CreateKeyRequest = typeof CreateKeyRequest.Type

/** Returned exactly once, when a key is created. */
export const CreatedInferenceKey = Schema.Struct({
  key: InferenceKeyInfo,
  secret: Schema.String
}).annotations({ identifier: "CreatedInferenceKey" })

export const RevokedInferenceKey = Schema.Struct({
  key: InferenceKeyInfo,
  /** True when it had been revoked before this request; nothing changed. */
  alreadyRevoked: Schema.Boolean
}).annotations({ identifier: "RevokedInferenceKey" })
