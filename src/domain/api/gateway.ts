/**
 * Management routes of the model gateway (all admin): providers, inference
 * keys and usage. The inference routes themselves (`/v1/models`,
 * `/v1/chat/completions`, `/v1/responses`, `/v1/messages`) are not in the
 * HttpApi: see src/domain/gateway-routes.ts.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as Schema from "effect/Schema"
import { AmbiguousToken, InvalidRequest, TokenNotFound } from "../errors.js"
import { CreatedInferenceKey, CreateKeyRequest, InferenceKeyInfo, RevokedInferenceKey } from "../inference-key.js"
import {
  CreateProviderRequest,
  MasterKeyProblem,
  ProviderExists,
  ProviderInfo,
  ProviderName,
  ProviderNotFound,
  ProviderUnreachable
} from "../provider.js"
import { Admin, RouteRuleAnnotation } from "../route-rule.js"
import { UsageQuery, UsageReport } from "../usage.js"

const providerPath = Schema.Struct({ name: ProviderName })

export class ProvidersApi extends HttpApiGroup.make("providers")
  .add(
    HttpApiEndpoint.post("create", "/v1/providers")
      .setPayload(CreateProviderRequest)
      .addSuccess(ProviderInfo, { status: 201 })
      .addError(InvalidRequest)
      .addError(ProviderExists)
      .addError(ProviderUnreachable)
      .addError(MasterKeyProblem)
      .annotate(RouteRuleAnnotation, Admin)
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/providers")
      .addSuccess(Schema.Struct({ providers: Schema.Array(ProviderInfo) }))
      .annotate(RouteRuleAnnotation, Admin)
  )
  .add(
    HttpApiEndpoint.get("get", "/v1/providers/:name")
      .setPath(providerPath)
      .addSuccess(ProviderInfo)
      .addError(ProviderNotFound)
      .annotate(RouteRuleAnnotation, Admin)
  )
  .add(
    HttpApiEndpoint.del("remove", "/v1/providers/:name")
      .setPath(providerPath)
      .addSuccess(Schema.Struct({ deleted: Schema.Literal(true), name: Schema.String }))
      .addError(ProviderNotFound)
      .annotate(RouteRuleAnnotation, Admin)
  )
{}

export class KeysApi extends HttpApiGroup.make("keys")
  .add(
    HttpApiEndpoint.post("create", "/v1/keys")
      .setPayload(CreateKeyRequest)
      .addSuccess(CreatedInferenceKey, { status: 201 })
      .addError(InvalidRequest)
      .annotate(RouteRuleAnnotation, Admin)
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/keys")
      .addSuccess(Schema.Struct({ keys: Schema.Array(InferenceKeyInfo) }))
      .annotate(RouteRuleAnnotation, Admin)
  )
  .add(
    HttpApiEndpoint.del("revoke", "/v1/keys/:idOrPrefix")
      .setPath(Schema.Struct({ idOrPrefix: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)) }))
      .addSuccess(RevokedInferenceKey)
      .addError(TokenNotFound)
      .addError(AmbiguousToken)
      .annotate(RouteRuleAnnotation, Admin)
  )
{}

export class UsageApi extends HttpApiGroup.make("usage")
  .add(
    HttpApiEndpoint.get("report", "/v1/usage")
      .setUrlParams(UsageQuery)
      .addSuccess(UsageReport)
      .addError(TokenNotFound)
      .addError(AmbiguousToken)
      .annotate(RouteRuleAnnotation, Admin)
  )
{}
