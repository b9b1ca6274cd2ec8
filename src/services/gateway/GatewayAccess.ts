/**
 * Who may call the gateway's own routes (see src/domain/gateway-routes.ts):
 * inference keys (`tsk_…`, from `Authorization: Bearer` or `x-api-key`) on
 * every gateway route, and read-scope access tokens (`tat_…`) on
 * `GET /v1/models` only. Refusals are GatewayFailures (401 / 403), rendered
 * in the caller's format by the route.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { GatewayAccess as Access } from "../../domain/gateway-routes.js"
import { satisfies } from "../../domain/scope.js"
import { tokenPrefix } from "../../domain/token-format.js"
import type { TokenRow } from "../tokens/TokenRepo.js"
import { TokenStore } from "../tokens/TokenStore.js"
import { InferenceKeys, type VerifiedKey } from "./InferenceKeys.js"
import { GatewayFailure } from "./wire-errors.js"
import { headerCredential } from "../../domain/credential-header.js"

export type GatewayCaller =
  | { readonly _tag: "Key"; readonly key: VerifiedKey }
  | { readonly _tag: "AccessToken"; readonly row: TokenRow }


export class GatewayAccess extends Effect.Service<GatewayAccess>()("tether/GatewayAccess", {
  effect: Effect.gen(function*() {
    const keys = yield* InferenceKeys
    const tokens = yield* TokenStore

    const refuse = (message: string) => new GatewayFailure({ status: 401, kind: "authentication", message })

    const authorize = Effect.fn("GatewayAccess.authorize")(function*(
      access: Access,
      headers: Readonly<Record<string, string | undefined>>,
      /** Used when no header carries a credential, on `inferenceOrRead` routes only (the web UI's session cookie). */
      fallback: Option.Option<string> = Option.none()
    ): Effect.fn.Return<GatewayCaller, GatewayFailure> {
      const credential = Option.orElse(headerCredential(headers), () => (access === "inferenceOrRead" ? fallback : Option.none()))
      if (Option.isNone(credential)) {
        return yield* refuse(
          access === "inference"
            ? "no inference key: send Authorization: Bearer tsk_… or x-api-key: tsk_… (create one with `tether keys create`)"
            : "no credential: send an inference key (tsk_…) or an access token (tat_…) as Authorization: Bearer"
        )
      }
      if (credential.value.startsWith(tokenPrefix.access)) {
        if (access === "inference") {
          return yield* new GatewayFailure({
            status: 401,
            kind: "authentication",
            message: "access tokens (tat_…) are not accepted here: use an inference key (tsk_…, `tether keys create`)"
          })
        }
        const { row } = yield* tokens.verify("access", credential.value).pipe(
          Effect.mapError((e) => refuse(e.error))
        )
        if (!satisfies(row.scope, "read")) {
          return yield* new GatewayFailure({ status: 403, kind: "permission", message: "this needs read scope" })
        }
        return { _tag: "AccessToken", row } as const
      }
      const key = yield* keys.verify(credential.value).pipe(Effect.mapError((e) => refuse(e.error)))
      return { _tag: "Key", key } as const
    })

    return { authorize } as const
  })
}) {}
