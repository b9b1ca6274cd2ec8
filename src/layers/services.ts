/**
 * The server's capabilities over one storage layer. Repositories need only a
 * SqlClient, so this is the same for SQLite and Postgres; StorageLive picks
 * the database from configuration.
 */
import * as Layer from "effect/Layer"
import { AuditLog } from "../services/audit/AuditLog.js"
import { AuditRepo } from "../services/audit/AuditRepo.js"
import { TetherHome } from "../services/home/TetherHome.js"
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
import { TerminalRelay } from "../services/terminal/TerminalRelay.js"
import { RunnerTunnel } from "../services/tunnel/RunnerTunnel.js"

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
  Layer.provideMerge(RunnerTunnel.Default),
  Layer.provideMerge(SessionJournal.Default),
  Layer.provideMerge(SessionHub.Default),
  Layer.provideMerge(SessionStorageLive)
)

/** Everything the HTTP API and the runner tunnel need, given a SqlClient. */
export const ServerServicesLive = Layer.mergeAll(PasswordExchange.Default, ScopeGuard.Default, SessionServicesLive).pipe(
  Layer.provideMerge(CoreServicesLive)
)
