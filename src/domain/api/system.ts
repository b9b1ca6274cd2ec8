import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { Public } from "../route-rule.js"
import { RouteRuleAnnotation } from "../route-rule.js"
import { Health, VersionInfo } from "../server-info.js"

export class SystemApi extends HttpApiGroup.make("system")
  .add(
    HttpApiEndpoint.get("health", "/healthz")
      .addSuccess(Health)
      .annotate(RouteRuleAnnotation, Public)
  )
  .add(
    HttpApiEndpoint.get("version", "/api/version")
      .addSuccess(VersionInfo)
      .annotate(RouteRuleAnnotation, Public)
  )
{}
