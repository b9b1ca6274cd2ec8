import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { TetherApi } from "../../domain/api/index.js"
import { InvalidRequest } from "../../domain/errors.js"
import { HostInfo } from "../../domain/host.js"
import { CurrentPrincipal } from "../../domain/principal.js"
import { SessionEventRecord } from "../../domain/session-event.js"
import { HostRepo } from "../../services/hosts/HostRepo.js"
import { SessionHub } from "../../services/sessions/SessionHub.js"
import { ServerLifecycle } from "../../services/lifecycle/ServerLifecycle.js"
import { SessionService } from "../../services/sessions/SessionService.js"
import { RunnerTunnel } from "../../services/tunnel/RunnerTunnel.js"

/** A comment line keeps proxies and clients from timing out an idle stream. */
export const SSE_HEARTBEAT_INTERVAL = "15 seconds"

const encodeRecord = Schema.encodeSync(SessionEventRecord)
const encoder = new TextEncoder()

/** One Server-Sent Event: `id` is the per-session seq, `event` the event type. */
export const formatSse = (record: SessionEventRecord): string =>
  `id: ${record.seq}\nevent: ${record.event.type}\ndata: ${JSON.stringify(encodeRecord(record))}\n\n`

/** Where a stream resumes: `Last-Event-ID` (what EventSource sends on reconnect) wins over `?after=`. */
const resumePoint = (lastEventId: string | undefined, after: number | undefined) =>
  Effect.suspend(() => {
    if (lastEventId === undefined || lastEventId.trim() === "") return Effect.succeed(after ?? 0)
    const seq = Number(lastEventId.trim())
    return Number.isSafeInteger(seq) && seq >= 0
      ? Effect.succeed(seq)
      : Effect.fail(new InvalidRequest({ error: `Last-Event-ID must be an event seq (a whole number), got ${JSON.stringify(lastEventId)}` }))
  })

export const SessionsHandlers = HttpApiBuilder.group(TetherApi, "sessions", (handlers) =>
  Effect.gen(function*() {
    const service = yield* SessionService
    const hub = yield* SessionHub
    const lifecycle = yield* ServerLifecycle
    return handlers
      .handle("create", ({ payload }) => Effect.flatMap(CurrentPrincipal, (p) => service.create(payload, p)))
      .handle("list", ({ urlParams }) => service.list(urlParams))
      .handle("get", ({ path }) => service.get(path.id))
      .handle("update", ({ path, payload }) => service.update(path.id, payload))
      .handle("remove", ({ path }) => Effect.as(service.remove(path.id), { deleted: true as const }))
      .handle("send", ({ path, payload }) => Effect.flatMap(CurrentPrincipal, (p) => service.send(path.id, payload, p)))
      .handle("fork", ({ path, payload }) => Effect.flatMap(CurrentPrincipal, (p) => service.fork(path.id, payload.upToSeq, p)))
      .handle("stream", ({ path, urlParams }) =>
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const after = yield* resumePoint(request.headers["last-event-id"], urlParams.after)
          yield* service.exists(path.id)
          const events = hub.subscribe(path.id, after).pipe(
            // One text per chunk of events: a burst becomes one write, not one per event.
            Stream.mapChunks((chunk) => Chunk.of(Chunk.join(Chunk.map(chunk, formatSse), ""))),
            // A subscriber cut off for being slow just ends: the client resumes from its last id.
            Stream.catchTag("SlowSubscriber", () => Stream.make(": too slow, resume with Last-Event-ID\n\n"))
          )
          const heartbeats = Stream.tick(SSE_HEARTBEAT_INTERVAL).pipe(Stream.drop(1), Stream.as(": heartbeat\n\n"))
          const body = Stream.make(`: session ${path.id} after ${after}\n\n`).pipe(
            Stream.concat(Stream.merge(events, heartbeats, { haltStrategy: "left" })),
            // The server is stopping: end cleanly; the client resumes from its last id.
            Stream.interruptWhen(lifecycle.stopping),
            Stream.map((text) => encoder.encode(text))
          )
          return HttpServerResponse.stream(body, {
            contentType: "text/event-stream",
            headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
          })
        }))
  }))

export const HostsHandlers = HttpApiBuilder.group(TetherApi, "hosts", (handlers) =>
  Effect.gen(function*() {
    const hosts = yield* HostRepo
    const tunnel = yield* RunnerTunnel
    return handlers.handle("list", () =>
      Effect.gen(function*() {
        const rows = yield* hosts.list()
        return {
          hosts: yield* Effect.forEach(rows, (row) =>
            Effect.map(tunnel.isOnline(row), (online) =>
              new HostInfo({
                id: row.id,
                name: row.name,
                online,
                lastSeenAt: row.lastSeenAt === null ? null : DateTime.unsafeMake(row.lastSeenAt),
                version: row.version,
                harnesses: row.harnesses
              })))
        }
      }))
  }))
