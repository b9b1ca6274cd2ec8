/**
 * The server's capabilities over one storage layer. Repositories need only a
 * SqlClient, so this is the same for SQLite and Postgres; StorageLive picks
 * the database from configuration.
 */
import * as Layer from "effect/Layer"
import { AuditLog } from "../services/audit/AuditLog.js"
import { AuditRepo } from "../services/audit/AuditRepo.js"
import { PasswordExchange } from "../services/connect/PasswordExchange.js"
import { LockoutRepo } from "../services/lockout/LockoutRepo.js"
import { ManagementPassword } from "../services/password/ManagementPassword.js"
import { ScopeGuard } from "../services/scope-guard/ScopeGuard.js"
import { SettingsRepo } from "../services/settings/SettingsRepo.js"
import { TokenRepo } from "../services/tokens/TokenRepo.js"
import { TokenStore } from "../services/tokens/TokenStore.js"

export const RepositoriesLive = Layer.mergeAll(
  TokenRepo.Default,
  AuditRepo.Default,
  LockoutRepo.Default,
  SettingsRepo.Default
)

export const CoreServicesLive = Layer.mergeAll(TokenStore.Default, AuditLog.Default, ManagementPassword.Default).pipe(
  Layer.provideMerge(RepositoriesLive)
)

/** Everything the HTTP API needs, given a SqlClient. */
export const ServerServicesLive = Layer.mergeAll(PasswordExchange.Default, ScopeGuard.Default).pipe(
  Layer.provideMerge(CoreServicesLive)
)
