/**
 * The server's capabilities over one storage layer. Repositories need only a
 * SqlClient, so this is the same for SQLite and Postgres; StorageLive picks
 * the database from configuration.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Layer from "effect/Layer"
import { AuditLog } from "../services/audit/AuditLog.js"
import { AuditRepo } from "../services/audit/AuditRepo.js"
import { Gateway } from "../services/gateway/Gateway.js"
import { GatewayAccess } from "../services/gateway/GatewayAccess.js"
import { InferenceKeyRepo } from "../services/gateway/InferenceKeyRepo.js"
import { InferenceKeys } from "../services/gateway/InferenceKeys.js"
import { TetherHome } from "../services/home/TetherHome.js"
import { MasterKey } from "../services/master-key/MasterKey.js"
import { ProviderRegistry } from "../services/providers/ProviderRegistry.js"
import { ProviderRepo } from "../services/providers/ProviderRepo.js"
import { UsageLog } from "../services/usage/UsageLog.js"
import { UsageRepo } from "../services/usage/UsageRepo.js"
import { PasswordExchange } from "../services/connect/PasswordExchange.js"
import { LockoutRepo } from "../services/lockout/LockoutRepo.js"
import { ManagementPassword } from "../services/password/ManagementPassword.js"
import { ScopeGuard } from "../services/scope-guard/ScopeGuard.js"
import { SettingsRepo } from "../services/settings/SettingsRepo.js"
import { TokenRepo } from "../services/tokens/TokenRepo.js"
import { TokenStore } from "../services/tokens/TokenStore.js"
import { HostRepo } from "../services/hosts/HostRepo.js"
import { CommandQueue } from "../services/sessions/CommandQueue.js"
import { EventStore } from "../services/sessions/EventStore.js"
import { SessionHub } from "../services/sessions/SessionHub.js"
import { SessionJournal } from "../services/sessions/SessionJournal.js"
import { SessionRepo } from "../services/sessions/SessionRepo.js"
import { SessionService } from "../services/sessions/SessionService.js"
import { TerminalHomes } from "../services/terminal/TerminalHomes.js"
import { TerminalRelay } from "../services/terminal/TerminalRelay.js"
import { RunnerTunnel } from "../services/tunnel/RunnerTunnel.js"
import { WebSessions } from "../services/web-session/WebSessions.js"

export const RepositoriesLive = Layer.mergeAll(
  TokenRepo.Default,
  AuditRepo.Default,
  LockoutRepo.Default,
  SettingsRepo.Default
)

export const CoreServicesLive = Layer.mergeAll(TokenStore.Default, AuditLog.Default, ManagementPassword.Default).pipe(
  Layer.provideMerge(RepositoriesLive)
)

const SessionStorageLive = Layer.mergeAll(HostRepo.Default, SessionRepo.Default, EventStore.Default, CommandQueue.Default)

/** Sessions: storage, live fan-out, the runner tunnel and the client-facing service. */
export const SessionServicesLive = SessionService.Default.pipe(
  Layer.provideMerge(TerminalRelay.Default.pipe(Layer.provide(TetherHome.Default))),
  Layer.provideMerge(TerminalHomes.Default),
  Layer.provideMerge(RunnerTunnel.Default),
  Layer.provideMerge(SessionJournal.Default),
  Layer.provideMerge(SessionHub.Default),
  Layer.provideMerge(SessionStorageLive)
)

/**
 * The model gateway: providers (keys sealed by the master key, kept under
 * TETHER_HOME unless TETHER_MASTER_KEY is set), inference keys, usage, and
 * the HTTP client that talks to providers. Needs TokenStore and a SqlClient.
 */
export const GatewayServicesLive = Layer.mergeAll(Gateway.Default, GatewayAccess.Default).pipe(
  Layer.provideMerge(Layer.mergeAll(ProviderRegistry.Default, UsageLog.Default, InferenceKeys.Default)),
  Layer.provideMerge(Layer.mergeAll(ProviderRepo.Default, InferenceKeyRepo.Default, UsageRepo.Default)),
  Layer.provideMerge(MasterKey.Default.pipe(Layer.provide(TetherHome.Default))),
  // Provided, not exposed: the HttpClient for providers is the gateway's own.
  Layer.provide(NodeHttpClient.layerUndici)
)

/** Everything the HTTP API and the runner tunnel need, given a SqlClient. */
export const ServerServicesLive = WebSessions.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(PasswordExchange.Default, ScopeGuard.Default, SessionServicesLive, GatewayServicesLive)),
  Layer.provideMerge(CoreServicesLive)
)
