import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as Schema from "effect/Schema"
import { AccessTokenInfo, ConnectRequest, CreatedAccessToken, CreateTokenRequest, RevokedToken, Whoami } from "../access-token.js"
import { AmbiguousToken, InvalidPassword, InvalidRequest, TokenNotFound, TooManyAttempts } from "../errors.js"
import { Admin, Inferred, Public, RouteRuleAnnotation } from "../route-rule.js"

/** Remote mode: trade the management password for a token, and manage tokens. */
export class CliApi extends HttpApiGroup.make("cli")
  .add(
    HttpApiEndpoint.post("connect", "/api/cli/connect")
      .setPayload(ConnectRequest)
      .addSuccess(CreatedAccessToken, { status: 201 })
      .addError(InvalidPassword)
      .addError(TooManyAttempts)
      .annotate(RouteRuleAnnotation, Public)
  )
  .add(
    HttpApiEndpoint.get("whoami", "/api/cli/whoami")
      .addSuccess(Whoami)
      .annotate(RouteRuleAnnotation, Inferred)
  )
  .add(
    HttpApiEndpoint.get("listTokens", "/api/cli/tokens")
      .addSuccess(Schema.Struct({ tokens: Schema.Array(AccessTokenInfo) }))
      .annotate(RouteRuleAnnotation, Admin)
  )
  .add(
    HttpApiEndpoint.post("createToken", "/api/cli/tokens")
      .setPayload(CreateTokenRequest)
      .addSuccess(CreatedAccessToken, { status: 201 })
      .addError(InvalidRequest)
      .annotate(RouteRuleAnnotation, Admin)
  )
  .add(
    HttpApiEndpoint.del("revokeToken", "/api/cli/tokens/:idOrPrefix")
      .setPath(Schema.Struct({ idOrPrefix: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)) }))
      .addSuccess(RevokedToken)
      .addError(TokenNotFound)
      .addError(AmbiguousToken)
      .annotate(RouteRuleAnnotation, Admin)
  )
{}
