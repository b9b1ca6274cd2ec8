import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { AuditPage, AuditQuery } from "../audit.js"
import { InvalidRequest } from "../errors.js"
import { Admin, RouteRuleAnnotation } from "../route-rule.js"

export class AuditApi extends HttpApiGroup.make("audit")
  .add(
    HttpApiEndpoint.get("list", "/api/audit")
      .setUrlParams(AuditQuery)
      .addSuccess(AuditPage)
      .addError(InvalidRequest)
      .annotate(RouteRuleAnnotation, Admin)
  )
{}
