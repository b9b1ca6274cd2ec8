/**
 * A small stand-in for the server's end of the runner tunnel: TunnelRpcs
 * over a real WebSocket (RpcServer + HttpLayerRouter + NodeHttpServer on
 * 127.0.0.1:0, NDJSON), independent of the real server's code.
 *
 * It keeps what a test wants to look at (upgrade requests, Connect payloads,
 * acknowledgements, pushed batches, heartbeats, the stored events per
 * session) and lets it misbehave: hang PushEvents answers, forget
 * acknowledgements, drop every connection, refuse new ones, supersede.
 *
 * Commands follow the contract: per-host commandSeq; every unacknowledged
 * command is sent (again) on each Connect, then new ones as they come.
 * Events are stored when their rseq continues the session's sequence;
 * duplicates are ignored; the answer is the highest rseq stored.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as NodeHttp from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { Unauthorized } from "../../../src/domain/errors.js"
import {
  ProtocolMismatch,
  type RunnerCommand,
  RunnerAuth,
  Superseded,
  TUNNEL_PATH,
  TUNNEL_PROTOCOL_VERSION,
  TunnelRpcs,
  UnknownSession
} from "../../../src/domain/rpc/tunnel.js"
import type { SessionEvent } from "../../../src/domain/session-event.js"

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
export type CommandInput = DistributiveOmit<RunnerCommand, "commandSeq">

export interface FakeTunnelOptions {
  /** The protocol version this server speaks. Default: the current one. */
  readonly protocolVersion?: number
  /** The only token accepted (`Authorization: Bearer <token>`). */
  readonly token: string
}

export interface ConnectRecord {
  readonly at: number
  readonly protocolVersion: number
  readonly hostName: string
  readonly runnerVersion: string
  readonly harnesses: ReadonlyArray<{ readonly name: string; readonly ready: boolean }>
}

export interface PushRecord {
  readonly at: number
  readonly connection: number
  readonly sessionId: string
  readonly rseqs: ReadonlyArray<number>
}

export class FakeTunnelServer {
  /** `http://127.0.0.1:<port>`: what the runner is given. */
  url = ""
  /** When each TCP connection arrived (refused ones included). */
  readonly tcpConnections: Array<number> = []
  /** Every WebSocket upgrade request: its URL and Authorization header. */
  readonly upgrades: Array<{ readonly at: number; readonly url: string; readonly authorization: string | undefined }> = []
  /** The Authorization header the RunnerAuth middleware saw, per RPC call. */
  readonly rpcAuthorizations: Array<string | undefined> = []
  readonly connects: Array<ConnectRecord> = []
  readonly acks: Array<number> = []
  readonly pushes: Array<PushRecord> = []
  heartbeats = 0
  /** Per session: the events stored, index i holding rseq i + 1. */
  readonly stored = new Map<string, Array<SessionEvent>>()
  /** Batches' events that were already stored (resent). */
  duplicates = 0

  /** "hang": PushEvents never answers (nothing stored); "storeThenHang": stores, then never answers. */
  pushMode: "normal" | "hang" | "storeThenHang" = "normal"
  /** When false, AckCommand succeeds but is not recorded, so the command is sent again on the next Connect. */
  recordAcks = true
  /** Sessions PushEvents answers UnknownSession for. */
  readonly unknownSessions = new Set<string>()
  /** When true, new TCP connections are closed at once. */
  refuseConnections = false

  private readonly commands: Array<RunnerCommand> = []
  private readonly acked = new Set<number>()
  private nextSeq = 1
  private readonly sockets = new Set<Socket>()
  private readonly wakers = new Set<Queue.Queue<void>>()
  private current: { readonly id: number; readonly superseded: Deferred.Deferred<void> } | null = null
  private connectionCount = 0

  constructor(readonly options: FakeTunnelOptions) {}

  /** Queues a command for the host; returns its commandSeq. */
  enqueue(command: CommandInput): Effect.Effect<number> {
    return Effect.suspend(() => {
      const commandSeq = this.nextSeq++
      this.commands.push({ ...command, commandSeq } as RunnerCommand)
      return Effect.as(Effect.forEach(this.wakers, (q) => Queue.offer(q, undefined), { discard: true }), commandSeq)
    })
  }

  /** Cuts every connection as a network failure would (no close frame). */
  get dropConnections(): Effect.Effect<void> {
    return Effect.sync(() => {
      for (const socket of this.sockets) socket.destroy()
      this.sockets.clear()
    })
  }

  /** Ends the current Connect stream with Superseded, as when another runner connects. */
  get supersede(): Effect.Effect<void> {
    return Effect.suspend(() => (this.current === null ? Effect.void : Deferred.succeed(this.current.superseded, undefined)))
  }

  /** The number of Connect calls so far. */
  get connections(): number {
    return this.connectionCount
  }

  storedRseqs(sessionId: string): number {
    return this.stored.get(sessionId)?.length ?? 0
  }

  /** Listens on 127.0.0.1:0 for the lifetime of the scope. */
  static make = (options: FakeTunnelOptions): Effect.Effect<FakeTunnelServer, never, Scope.Scope> =>
    Effect.gen(function*() {
      const fake = new FakeTunnelServer(options)
      const nodeServer = NodeHttp.createServer()
      nodeServer.on("connection", (socket: Socket) => {
        fake.tcpConnections.push(Date.now())
        if (fake.refuseConnections) {
          socket.destroy()
          return
        }
        fake.sockets.add(socket)
        socket.once("close", () => fake.sockets.delete(socket))
      })
      nodeServer.on("upgrade", (request: NodeHttp.IncomingMessage) => {
        fake.upgrades.push({ at: Date.now(), url: request.url ?? "", authorization: request.headers.authorization })
      })
      yield* Layer.build(fake.layer(nodeServer)).pipe(Effect.orDie)
      const address = nodeServer.address() as AddressInfo
      fake.url = `http://127.0.0.1:${address.port}`
      // Make sure nothing keeps the port busy after the test.
      yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
      return fake
    })

  private layer(nodeServer: NodeHttp.Server) {
    const fake = this
    const serverProtocol = this.options.protocolVersion ?? TUNNEL_PROTOCOL_VERSION

    const handlers = TunnelRpcs.toLayer({
      Connect: (payload) =>
        Stream.unwrapScoped(
          Effect.gen(function*() {
            fake.connects.push({
              at: Date.now(),
              protocolVersion: payload.protocolVersion,
              hostName: payload.hostName,
              runnerVersion: payload.runnerVersion,
              harnesses: payload.harnesses.map((h) => ({ name: h.name, ready: h.ready }))
            })
            if (payload.protocolVersion !== serverProtocol) {
              return yield* new ProtocolMismatch({
                error: `runner speaks tunnel protocol ${payload.protocolVersion}, this server speaks ${serverProtocol}`,
                serverProtocol,
                runnerProtocol: payload.protocolVersion
              })
            }
            const id = ++fake.connectionCount
            const previous = fake.current
            const connection = { id, superseded: yield* Deferred.make<void>() }
            fake.current = connection
            if (previous !== null) yield* Deferred.succeed(previous.superseded, undefined)
            const wake = yield* Queue.sliding<void>(1)
            fake.wakers.add(wake)
            yield* Effect.addFinalizer(() =>
              Effect.sync(() => {
                fake.wakers.delete(wake)
                if (fake.current === connection) fake.current = null
              })
            )
            let sentThrough = 0
            const next = Effect.sync(() => {
              const fresh = fake.commands.filter((c) => c.commandSeq > sentThrough && !fake.acked.has(c.commandSeq))
              sentThrough = fake.commands.at(-1)?.commandSeq ?? sentThrough
              return fresh
            })
            const welcome = { type: "welcome" as const, hostId: "hst_fake", serverVersion: "fake", sessions: [] }
            const superseded = Deferred.await(connection.superseded).pipe(
              Effect.zipRight(Effect.fail(new Superseded({ error: "a newer runner connection took over host test-host" })))
            )
            return Stream.make(welcome).pipe(
              Stream.concat(Stream.fromIterableEffect(next)),
              Stream.concat(Stream.repeatEffect(Effect.zipRight(Queue.take(wake), next)).pipe(Stream.flattenIterables)),
              Stream.interruptWhen(superseded)
            )
          })
        ),
      AckCommand: ({ commandSeq }) =>
        Effect.sync(() => {
          if (!fake.recordAcks) return
          fake.acks.push(commandSeq)
          fake.acked.add(commandSeq)
        }),
      PushEvents: ({ events, sessionId }) =>
        Effect.gen(function*() {
          fake.pushes.push({ at: Date.now(), connection: fake.connectionCount, sessionId, rseqs: events.map((e) => e.rseq) })
          if (fake.unknownSessions.has(sessionId)) {
            return yield* new UnknownSession({ error: `no session ${sessionId} on this host`, sessionId })
          }
          if (fake.pushMode === "hang") return yield* Effect.never
          const stored = fake.stored.get(sessionId) ?? []
          fake.stored.set(sessionId, stored)
          for (const { event, rseq } of events) {
            if (rseq <= stored.length) fake.duplicates++
            else if (rseq === stored.length + 1) stored.push(event)
            else break // a gap: answer what is stored, the runner resends from there
          }
          if (fake.pushMode === "storeThenHang") return yield* Effect.never
          return { ackedThrough: stored.length }
        }),
      Heartbeat: ({ sentAt }) =>
        Effect.sync(() => {
          fake.heartbeats++
          return { sentAt, serverAt: Date.now() }
        })
    })

    const auth = Layer.succeed(
      RunnerAuth,
      RunnerAuth.of(({ headers }) => {
        const authorization = headers["authorization"]
        fake.rpcAuthorizations.push(authorization)
        return authorization === `Bearer ${fake.options.token}`
          ? Effect.succeed({ tokenId: "tok_fake", tokenName: "runner" })
          : Effect.fail(new Unauthorized({ reason: "unknown", error: "unknown token" }))
      })
    )

    return HttpLayerRouter.serve(RpcServer.layerHttpRouter({ group: TunnelRpcs, path: TUNNEL_PATH, protocol: "websocket" }), {
      disableListenLog: true,
      disableLogger: true
    }).pipe(
      Layer.provide(handlers),
      Layer.provide(auth),
      Layer.provide(RpcSerialization.layerNdjson),
      Layer.provide(NodeHttpServer.layer(() => nodeServer, { host: "127.0.0.1", port: 0 }))
    )
  }
}
