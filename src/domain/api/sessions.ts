import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"
import {
  ApprovalNotPending,
  HostChoiceRequired,
  HostNotFound,
  InvalidRequest,
  SessionFinished,
  SessionNotFound
} from "../errors.js"
import { HostInfo } from "../host.js"
import { Inferred, RouteRuleAnnotation } from "../route-rule.js"
import {
  CreateSessionRequest,
  ForkRequest,
  InputAccepted,
  Session,
  SessionInput,
  SessionListQuery,
  SessionPage,
  UpdateSessionRequest
} from "../session.js"

const SessionPath = Schema.Struct({ id: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)) })

/**
 * Server-Sent Events: each event is `id: <seq>`, `event: <type>`,
 * `data: <SessionEventRecord JSON>`; a comment line every 15 s keeps the
 * connection alive. Resume with `Last-Event-ID: N` or `?after=N`.
 */
export const SessionStreamQuery = Schema.Struct({
  after: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()))
})

export class SessionsApi extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.post("create", "/v1/sessions")
      .setPayload(CreateSessionRequest)
      .addSuccess(Session, { status: 201 })
      .addError(SessionNotFound)
      .addError(HostNotFound)
      .addError(HostChoiceRequired)
      .addError(InvalidRequest)
      .annotate(RouteRuleAnnotation, Inferred)
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/sessions")
      .setUrlParams(SessionListQuery)
      .addSuccess(SessionPage)
      .addError(InvalidRequest)
      .annotate(RouteRuleAnnotation, Inferred)
  )
  .add(
    HttpApiEndpoint.get("get", "/v1/sessions/:id")
      .setPath(SessionPath)
      .addSuccess(Session)
      .addError(SessionNotFound)
      .annotate(RouteRuleAnnotation, Inferred)
  )
  .add(
    HttpApiEndpoint.patch("update", "/v1/sessions/:id")
      .setPath(SessionPath)
      .setPayload(UpdateSessionRequest)
      .addSuccess(Session)
      .addError(SessionNotFound)
      .annotate(RouteRuleAnnotation, Inferred)
  )
  .add(
    HttpApiEndpoint.del("remove", "/v1/sessions/:id")
      .setPath(SessionPath)
      .addSuccess(Schema.Struct({ deleted: Schema.Literal(true) }))
      .addError(SessionNotFound)
      .annotate(RouteRuleAnnotation, Inferred)
  )
  .add(
    HttpApiEndpoint.post("send", "/v1/sessions/:id/events")
      .setPath(SessionPath)
      .setPayload(SessionInput)
      .addSuccess(InputAccepted, { status: 202 })
      .addError(SessionNotFound)
      .addError(SessionFinished)
      .addError(ApprovalNotPending)
      .annotate(RouteRuleAnnotation, Inferred)
  )
  .add(
    HttpApiEndpoint.post("fork", "/v1/sessions/:id/fork")
      .setPath(SessionPath)
      .setPayload(ForkRequest)
      .addSuccess(Session, { status: 201 })
      .addError(SessionNotFound)
      .addError(InvalidRequest)
      .annotate(RouteRuleAnnotation, Inferred)
  )
  .add(
    HttpApiEndpoint.get("stream", "/v1/sessions/:id/stream")
      .setPath(SessionPath)
      .setUrlParams(SessionStreamQuery)
      .addSuccess(Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/event-stream" })))
      .addError(SessionNotFound)
      .addError(InvalidRequest)
      .annotate(RouteRuleAnnotation, Inferred)
  )
{}

export class HostsApi extends HttpApiGroup.make("hosts")
  .add(
    HttpApiEndpoint.get("list", "/v1/hosts")
      .addSuccess(Schema.Struct({ hosts: Schema.Array(HostInfo) }))
      .annotate(RouteRuleAnnotation, Inferred)
  )
{}
