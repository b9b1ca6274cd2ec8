/**
 * Errors that cross the HTTP boundary. Each carries its status for HttpApi
 * and a human sentence in `error`, which the CLI prints as its one line.
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"
import { Scope } from "./scope.js"

export const UnauthorizedReason = Schema.Literal("missing", "malformed", "unknown", "expired", "revoked", "wrong_kind")
export type UnauthorizedReason = typeof UnauthorizedReason.Type

/** 401: says which — missing, malformed, unknown, expired or revoked credential. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { reason: UnauthorizedReason, error: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** 403: the credential is valid but its scope is too weak. */
export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { error: Schema.String, required: Scope, granted: Scope },
  HttpApiSchema.annotations({ status: 403 })
) {}

/** 403: the route only answers peers on this machine, whatever the scope. */
export class LoopbackOnly extends Schema.TaggedError<LoopbackOnly>()(
  "LoopbackOnly",
  { error: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

/** 401 from the password exchange. */
export class InvalidPassword extends Schema.TaggedError<InvalidPassword>()(
  "InvalidPassword",
  { error: Schema.String, remainingAttempts: Schema.Int },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** 429: this client address is locked out after repeated failures. Sent with Retry-After. */
export class TooManyAttempts extends Schema.TaggedError<TooManyAttempts>()(
  "TooManyAttempts",
  { error: Schema.String, retryAfterSeconds: Schema.Int },
  HttpApiSchema.annotations({ status: 429 })
) {}

export class TokenNotFound extends Schema.TaggedError<TokenNotFound>()(
  "TokenNotFound",
  { error: Schema.String, idOrPrefix: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export const TokenMatch = Schema.Struct({ id: Schema.String, prefix: Schema.String, name: Schema.String })

/** 409: a prefix matched several tokens; nothing was revoked. */
export class AmbiguousToken extends Schema.TaggedError<AmbiguousToken>()(
  "AmbiguousToken",
  { error: Schema.String, idOrPrefix: Schema.String, matches: Schema.Array(TokenMatch) },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** 400: a well-formed request that asks for something invalid. */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()(
  "InvalidRequest",
  { error: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()(
  "SessionNotFound",
  { error: Schema.String, sessionId: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class HostNotFound extends Schema.TaggedError<HostNotFound>()(
  "HostNotFound",
  { error: Schema.String, host: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export const HostChoice = Schema.Struct({ id: Schema.String, name: Schema.String, online: Schema.Boolean })

/** 409: no host was named and there is not exactly one online host to pick. */
export class HostChoiceRequired extends Schema.TaggedError<HostChoiceRequired>()(
  "HostChoiceRequired",
  { error: Schema.String, hosts: Schema.Array(HostChoice) },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** 409: the session has exited or failed; it takes no more input. */
export class SessionFinished extends Schema.TaggedError<SessionFinished>()(
  "SessionFinished",
  { error: Schema.String, sessionId: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** 409: no approval with that id is waiting in this session. */
export class ApprovalNotPending extends Schema.TaggedError<ApprovalNotPending>()(
  "ApprovalNotPending",
  { error: Schema.String, requestId: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}
