/**
 * The entry point commands use to talk to a server. The HTTP client and the
 * API's schemas load only when a remote command runs (see remote-client.ts),
 * so `tether --help` and local commands never pay for them.
 */
import * as Effect from "effect/Effect"
import type { CliError } from "./errors.js"
import type { RemoteEndpoint, TetherClient } from "./remote-client.js"

export type { RemoteEndpoint, TetherClient } from "./remote-client.js"

export const withClient = <A, E>(
  endpoint: RemoteEndpoint,
  use: (client: TetherClient) => Effect.Effect<A, E>
): Effect.Effect<A, CliError> =>
  Effect.flatMap(Effect.promise(() => import("./remote-client.js")), (remote) => remote.withClient(endpoint, use))
