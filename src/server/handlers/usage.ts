/** `GET /v1/usage` (admin): gateway requests per key, newest first, with totals. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { TetherApi } from "../../domain/api/index.js"
import { UsageLog } from "../../services/usage/UsageLog.js"

export const UsageHandlers = HttpApiBuilder.group(TetherApi, "usage", (handlers) =>
  Effect.gen(function*() {
    const usage = yield* UsageLog
    return handlers.handle("report", ({ urlParams }) => usage.report(urlParams))
  }))
