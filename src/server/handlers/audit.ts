import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { TetherApi } from "../../domain/api/index.js"
import { AuditLog } from "../../services/audit/AuditLog.js"

export const AuditHandlers = HttpApiBuilder.group(TetherApi, "audit", (handlers) =>
  Effect.gen(function*() {
    const audit = yield* AuditLog
    return handlers.handle("list", ({ urlParams }) => audit.list(urlParams))
  }))
