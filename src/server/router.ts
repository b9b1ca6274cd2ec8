/**
 * All routes of the server: the HttpApi (with its generated OpenAPI document
 * at /api/openapi.json) behind the Authorization middleware, and the runner
 * tunnel WebSocket behind RunnerAuth.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as Layer from "effect/Layer"
import { TetherApi } from "../domain/api/index.js"
import { AuthorizationLive } from "./authorization.js"
import { AuditHandlers } from "./handlers/audit.js"
import { CliHandlers } from "./handlers/cli.js"
import { GatewayRoutes } from "./handlers/gateway.js"
import { KeysHandlers } from "./handlers/keys.js"
import { ProvidersHandlers } from "./handlers/providers.js"
import { UsageHandlers } from "./handlers/usage.js"
import { ServerAdminHandlers } from "./handlers/server-admin.js"
import { HostsHandlers, SessionsHandlers } from "./handlers/sessions.js"
import { SystemHandlers } from "./handlers/system.js"
import { TerminalRoutes } from "./terminal.js"
import { TunnelRoutes } from "./tunnel.js"
import { WebHandlers } from "./web/handlers.js"
import { WebRoutes } from "./web/static.js"

export const OPENAPI_PATH = "/api/openapi.json"

const HttpApiRoutes = HttpLayerRouter.addHttpApi(TetherApi, { openapiPath: OPENAPI_PATH }).pipe(
  Layer.provide([
    SystemHandlers,
    ServerAdminHandlers,
    CliHandlers,
    AuditHandlers,
    SessionsHandlers,
    HostsHandlers,
    ProvidersHandlers,
    KeysHandlers,
    UsageHandlers,
    WebHandlers,
    AuthorizationLive
  ])
)

export const ApiRoutes = Layer.mergeAll(HttpApiRoutes, TunnelRoutes, TerminalRoutes, WebRoutes, GatewayRoutes)
