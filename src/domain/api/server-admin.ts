import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as Schema from "effect/Schema"
import { AdminLoopbackOnly, Inferred, RouteRuleAnnotation } from "../route-rule.js"
import { ServerStatus } from "../server-info.js"

export class ServerAdminApi extends HttpApiGroup.make("server")
  .add(
    HttpApiEndpoint.get("status", "/api/server/status")
      .addSuccess(ServerStatus)
      .annotate(RouteRuleAnnotation, Inferred)
  )
  .add(
    // Stops the server process: loopback peers only, admin scope.
    HttpApiEndpoint.post("shutdown", "/api/server/shutdown")
      .addSuccess(Schema.Struct({ stopping: Schema.Literal(true) }), { status: 202 })
      .annotate(RouteRuleAnnotation, AdminLoopbackOnly)
  )
{}
