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
import { ServerAdminHandlers } from "./handlers/server-admin.js"
import { HostsHandlers, SessionsHandlers } from "./handlers/sessions.js"
import { SystemHandlers } from "./handlers/system.js"
import { TerminalRoutes } from "./terminal.js"
import { TunnelRoutes } from "./tunnel.js"

export const OPENAPI_PATH = "/api/openapi.json"

const HttpApiRoutes = HttpLayerRouter.addHttpApi(TetherApi, { openapiPath: OPENAPI_PATH }).pipe(
  Layer.provide([
    SystemHandlers,
    ServerAdminHandlers,
    CliHandlers,
    AuditHandlers,
    SessionsHandlers,
    HostsHandlers,
    AuthorizationLive
  ])
)

export const ApiRoutes = Layer.mergeAll(HttpApiRoutes, TunnelRoutes, TerminalRoutes)
