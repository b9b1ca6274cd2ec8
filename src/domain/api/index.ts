/** The whole HTTP API of the server. OpenAPI is generated from this value. */
import * as HttpApi from "@effect/platform/HttpApi"
import * as OpenApi from "@effect/platform/OpenApi"
import { AuditApi } from "./audit.js"
import { Authorization } from "./authorization.js"
import { CliApi } from "./cli.js"
import { KeysApi, ProvidersApi, UsageApi } from "./gateway.js"
import { ServerAdminApi } from "./server-admin.js"
import { HostsApi, SessionsApi } from "./sessions.js"
import { SystemApi } from "./system.js"
import { WebApi } from "./web.js"

export const API_VERSION = 1

export class TetherApi extends HttpApi.make("tether")
  .add(SystemApi)
  .add(ServerAdminApi)
  .add(CliApi)
  .add(AuditApi)
  .add(SessionsApi)
  .add(HostsApi)
  .add(ProvidersApi)
  .add(KeysApi)
  .add(UsageApi)
  .add(WebApi)
  .middleware(Authorization)
  .annotate(OpenApi.Title, "Tether API")
  .annotate(OpenApi.Description, "Coordination server for coding agents. Authenticate with `Authorization: Bearer tat_…` (or `X-API-Key`).")
{}

export { Authorization } from "./authorization.js"
