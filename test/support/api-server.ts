/**
 * The real HTTP API in-process: every route, the Authorization middleware and
 * the services over a storage layer, served on an ephemeral 127.0.0.1 port by
 * NodeHttpServer.layerTest, with an HttpClient pointed at it.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Effect from "effect/Effect"
import { ServerServicesLive } from "../../src/layers/services.js"
import type { Storage, StorageError } from "../../src/layers/storage.js"
import { ServerFacts, ServerLifecycle } from "../../src/services/lifecycle/ServerLifecycle.js"
import { ManagementPassword } from "../../src/services/password/ManagementPassword.js"
import { ApiRoutes } from "../../src/server/router.js"

export const TEST_PASSWORD = "correct horse battery staple"

/** Services (with the password set to TEST_PASSWORD) plus the HTTP server and a client. */
export const apiServerLayer = (storage: Layer.Layer<Storage, StorageError>) => {
  const services = Layer.mergeAll(ServerServicesLive, ServerLifecycle.Default).pipe(Layer.provideMerge(storage))
  const withPassword = Layer.effectDiscard(
    Effect.flatMap(ManagementPassword, (p) => p.initialize(Option.some(Redacted.make(TEST_PASSWORD))))
  ).pipe(Layer.provideMerge(services))
  return HttpLayerRouter.serve(ApiRoutes, { disableListenLog: true, disableLogger: true }).pipe(
    Layer.provide(ServerFacts.layer({ listen: "test", database: "sqlite" })),
    Layer.provideMerge(withPassword),
    Layer.provideMerge(NodeHttpServer.layerTest)
  )
}
