import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { API_VERSION, TetherApi } from "../../domain/api/index.js"
import { Health, VersionInfo } from "../../domain/server-info.js"
import { TETHER_VERSION } from "../../domain/version.js"

export const SystemHandlers = HttpApiBuilder.group(TetherApi, "system", (handlers) =>
  handlers
    .handle("health", () => Effect.succeed(new Health({ status: "ok" })))
    .handle("version", () =>
      Effect.succeed(new VersionInfo({ name: "tether", version: TETHER_VERSION, apiVersion: API_VERSION }))))
