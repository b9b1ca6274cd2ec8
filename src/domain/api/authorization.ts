import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as Schema from "effect/Schema"
import { Forbidden, LoopbackOnly, Unauthorized } from "../errors.js"
import { CurrentPrincipal } from "../principal.js"

/**
 * Runs on every route of the API. It reads the route's declared RouteRule
 * and refuses the request unless the credential (Authorization: Bearer or
 * X-API-Key) and the peer satisfy it. Implemented in src/server.
 */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("tether/Authorization", {
  provides: CurrentPrincipal,
  failure: Schema.Union(Unauthorized, Forbidden, LoopbackOnly)
}) {}
