/**
 * RunnerTunnel: the server's side of the runner tunnel. It keeps one live
 * connection per host (the newest wins: the older one's command stream ends
 * with Superseded), streams each host its commands from the durable
 * CommandQueue (everything unacknowledged first, then new ones as they are
 * enqueued), stores the events runners push, and owns what happens to
 * sessions when a host goes away: mid-turn sessions go to waiting_host, and
 * fail with reason host_lost if the host does not return within the grace
 * period. A connection that has shown no sign of life for 30 s is dropped.
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberMap from "effect/FiberMap"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { HarnessInfo } from "../../domain/host.js"
import {
  type ExpectedSession,
  NotConnected,
  ProtocolMismatch,
  type RunnerCommand,
  Superseded,
  TUNNEL_PROTOCOL_VERSION,
  UnknownSession
} from "../../domain/rpc/tunnel.js"
import { SessionNotFound } from "../../domain/errors.js"
import { isFinished, type SessionEvent, type SessionStatus } from "../../domain/session-event.js"
import { TETHER_VERSION } from "../../domain/version.js"
import { HostRepo } from "../hosts/HostRepo.js"
import { CommandQueue } from "../sessions/CommandQueue.js"
import { SessionJournal } from "../sessions/SessionJournal.js"
import { EventStore } from "../sessions/EventStore.js"
import { SessionRepo } from "../sessions/SessionRepo.js"
import { newId } from "../tokens/secret.js"

/** A host whose connection has been silent this long is considered dead. */
export const DEAD_PEER_AFTER = Duration.seconds(30)
/** Commands enqueued on another server instance are picked up within this. */
const COMMAND_POLL_INTERVAL = Duration.seconds(1)

/** The waiting reason of a session created while its host was offline. */
export const HOST_OFFLINE = "host_offline"

/** Statuses that mean "a turn is in progress": these wait for a lost host. */
const MID_TURN: ReadonlyArray<SessionStatus> = ["running", "waiting_approval"]

export type TunnelMessage =
  | {
    readonly type: "welcome"
    readonly hostId: string
    readonly serverVersion: string
    readonly sessions: ReadonlyArray<ExpectedSession>
  }
  | RunnerCommand

export interface ConnectRequest {
  readonly protocolVersion: number
  readonly hostName: string
  readonly runnerVersion: string
  readonly harnesses: ReadonlyArray<HarnessInfo>
}

interface Connection {
  readonly clientId: number
  readonly hostId: string
  readonly superseded: Deferred.Deferred<void>
  readonly wake: Queue.Queue<void>
  lastSeen: number
  lastSentSeq: number
}

const status = (s: SessionStatus, reason: string | null): SessionEvent => ({
  type: "status",
  status: s,
  reason,
  exitCode: null
})

/** A session deleted meanwhile needs no status change. */
const ignoreDeleted = <A, R>(effect: Effect.Effect<A, SessionNotFound, R>) =>
  Effect.catchTag(effect, "SessionNotFound", () => Effect.void)

export class RunnerTunnel extends Effect.Service<RunnerTunnel>()("tether/RunnerTunnel", {
  scoped: Effect.gen(function*() {
    const hosts = yield* HostRepo
    const sessions = yield* SessionRepo
    const commands = yield* CommandQueue
    const journal = yield* SessionJournal
    const events = yield* EventStore
    const grace = yield* Config.duration("TETHER_HOST_GRACE").pipe(Config.withDefault(Duration.seconds(60)))

    const byHost = new Map<string, Connection>()
    const byClient = new Map<number, Connection>()
    /** What each waiting session was doing before its host went away. */
    const beforeWaiting = new Map<string, SessionStatus>()
    const graceTimers = yield* FiberMap.make<string>()

    const failLostSessions = (hostId: string) =>
      Effect.gen(function*() {
        for (const session of yield* sessions.listByHost(hostId)) {
          // Sessions created while the host was offline wait for it indefinitely.
          if (session.status !== "waiting_host" || session.statusReason === HOST_OFFLINE) continue
          beforeWaiting.delete(session.id)
          yield* journal.record(session.id, [status("failed", "host_lost")]).pipe(ignoreDeleted)
        }
      })

    /** The host is gone: mid-turn sessions wait for it, for the grace period. */
    const hostWentAway = (hostId: string) =>
      Effect.gen(function*() {
        for (const session of yield* sessions.listByHost(hostId)) {
          if (!MID_TURN.includes(session.status)) continue
          beforeWaiting.set(session.id, session.status)
          yield* journal.record(session.id, [status("waiting_host", "host_disconnected")]).pipe(ignoreDeleted)
        }
        yield* FiberMap.run(graceTimers, hostId, Effect.sleep(grace).pipe(Effect.zipRight(failLostSessions(hostId))))
      })

    /** The host is back: waiting sessions resume what they were doing. */
    const hostCameBack = (hostId: string) =>
      Effect.gen(function*() {
        yield* FiberMap.remove(graceTimers, hostId)
        for (const session of yield* sessions.listByHost(hostId)) {
          if (session.status !== "waiting_host") continue
          const previous = beforeWaiting.get(session.id) ?? (session.statusReason === HOST_OFFLINE ? "idle" : "running")
          beforeWaiting.delete(session.id)
          yield* journal.record(session.id, [status(previous, "host_reconnected")]).pipe(ignoreDeleted)
        }
      })

    // After a server (re)start no host is connected yet: give every host with
    // mid-turn sessions the same grace period to reconnect.
    const unfinished = yield* sessions.listByStatuses([...MID_TURN, "waiting_host"])
    const affectedHosts = new Set(unfinished.map((s) => s.hostId))
    for (const hostId of affectedHosts) yield* hostWentAway(hostId)

    /** Unfinished sessions whose start already reached the host (a runner that restarted has lost them). */
    const expectedSessions = (hostId: string) =>
      Effect.gen(function*() {
        const pendingStarts = new Set(
          (yield* commands.pending(hostId)).flatMap((c) => (c.type === "start_session" ? [c.sessionId] : []))
        )
        const expected = (yield* sessions.listByHost(hostId)).filter((s) => !isFinished(s.status) && !pendingStarts.has(s.id))
        return yield* Effect.forEach(expected, (s) =>
          Effect.map(events.readByTypes(s.id, ["agent_session"]), (records): ExpectedSession => {
            const last = records.at(-1)?.event
            return {
              sessionId: s.id,
              harness: s.harness,
              cwd: s.cwd,
              args: s.args,
              lastRseq: s.lastRseq,
              resumeId: last?.type === "agent_session" ? last.agentSessionId : null
            }
          }))
      })

    const touch = (connection: Connection) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        connection.lastSeen = now
      })

    const connectionOf = (clientId: number): Effect.Effect<Connection, NotConnected> =>
      Effect.suspend(() => {
        const connection = byClient.get(clientId)
        return connection === undefined || byHost.get(connection.hostId) !== connection
          ? Effect.fail(new NotConnected({ error: "call Connect first (or this connection was superseded)" }))
          : Effect.as(touch(connection), connection)
      })

    const nextCommands = (connection: Connection) =>
      Effect.gen(function*() {
        const pending = yield* commands.pending(connection.hostId)
        const fresh = pending.filter((c) => c.commandSeq > connection.lastSentSeq)
        const last = fresh[fresh.length - 1]
        if (last !== undefined) connection.lastSentSeq = last.commandSeq
        return fresh
      })

    const connect = (
      request: ConnectRequest,
      clientId: number,
      createdBy: string
    ): Stream.Stream<TunnelMessage, ProtocolMismatch | Superseded> =>
      Stream.unwrapScoped(
        Effect.gen(function*() {
          if (request.protocolVersion !== TUNNEL_PROTOCOL_VERSION) {
            yield* Effect.logWarning(
              `runner "${request.hostName}" refused: it speaks tunnel protocol ${request.protocolVersion}, ` +
                `this server speaks ${TUNNEL_PROTOCOL_VERSION}`
            )
            return yield* new ProtocolMismatch({
              error: `runner speaks tunnel protocol ${request.protocolVersion}, this server speaks ${TUNNEL_PROTOCOL_VERSION}; ` +
                `upgrade the ${request.protocolVersion < TUNNEL_PROTOCOL_VERSION ? "runner" : "server"}`,
              serverProtocol: TUNNEL_PROTOCOL_VERSION,
              runnerProtocol: request.protocolVersion
            })
          }
          const now = yield* Clock.currentTimeMillis
          const host = yield* hosts.register({
            id: newId("hst"),
            name: request.hostName,
            version: request.runnerVersion,
            harnesses: request.harnesses,
            now,
            createdBy
          })
          const connection: Connection = {
            clientId,
            hostId: host.id,
            superseded: yield* Deferred.make<void>(),
            wake: yield* Queue.sliding<void>(1),
            lastSeen: now,
            lastSentSeq: 0
          }
          const previous = byHost.get(host.id)
          byHost.set(host.id, connection)
          byClient.set(clientId, connection)
          if (previous !== undefined) {
            yield* Effect.logInfo(`host "${request.hostName}": a newer runner connection replaces the previous one`)
            yield* Deferred.succeed(previous.superseded, undefined)
          }
          yield* hostCameBack(host.id)
          yield* Effect.addFinalizer(() =>
            Effect.gen(function*() {
              byClient.delete(clientId)
              if (byHost.get(host.id) !== connection) return
              byHost.delete(host.id)
              yield* hosts.markDisconnected(host.id, yield* Clock.currentTimeMillis)
              yield* hostWentAway(host.id)
            })
          )

          const superseded = Deferred.await(connection.superseded).pipe(
            Effect.zipRight(Effect.fail(new Superseded({ error: `a newer runner connection took over host ${request.hostName}` })))
          )
          const deadPeer = Effect.gen(function*() {
            for (;;) {
              yield* Effect.sleep("5 seconds")
              const silent = (yield* Clock.currentTimeMillis) - connection.lastSeen
              if (silent > Duration.toMillis(DEAD_PEER_AFTER)) return
            }
          })
          const live = Stream.repeatEffect(
            Queue.take(connection.wake).pipe(
              Effect.timeoutOption(COMMAND_POLL_INTERVAL),
              Effect.zipRight(nextCommands(connection))
            )
          ).pipe(Stream.flattenIterables)

          const welcome: TunnelMessage = {
            type: "welcome",
            hostId: host.id,
            serverVersion: TETHER_VERSION,
            sessions: yield* expectedSessions(host.id)
          }
          return Stream.succeed(welcome).pipe(
            Stream.concat(Stream.fromIterableEffect(nextCommands(connection))),
            Stream.concat(live),
            Stream.interruptWhen(superseded),
            Stream.interruptWhen(deadPeer)
          )
        })
      )

    const ack = Effect.fn("RunnerTunnel.ack")(function*(clientId: number, commandSeq: number) {
      const connection = yield* connectionOf(clientId)
      yield* commands.ack(connection.hostId, commandSeq, yield* Clock.currentTimeMillis)
    })

    const heartbeat = Effect.fn("RunnerTunnel.heartbeat")(function*(clientId: number) {
      const connection = yield* connectionOf(clientId)
      yield* hosts.markSeen(connection.hostId, connection.lastSeen)
      return connection.lastSeen
    })

    const pushEvents = Effect.fn("RunnerTunnel.pushEvents")(
      function*(
        clientId: number,
        sessionId: string,
        batch: ReadonlyArray<{ readonly rseq: number; readonly event: SessionEvent }>
      ): Effect.fn.Return<{ readonly ackedThrough: number }, NotConnected | UnknownSession> {
        const connection = yield* connectionOf(clientId)
        const session = yield* sessions.get(sessionId)
        if (Option.isNone(session) || session.value.hostId !== connection.hostId) {
          return yield* new UnknownSession({ error: `no session ${sessionId} on this host`, sessionId })
        }
        // A finished session (e.g. failed with host_lost while the host was away) takes no
        // more events; the runner stops its process and drops what it buffered.
        if (isFinished(session.value.status)) {
          return yield* new UnknownSession({
            error: `session ${sessionId} has ${session.value.status} (${session.value.statusReason ?? "no reason"}); it takes no more events`,
            sessionId
          })
        }
        const result = yield* journal.recordFromRunner(sessionId, batch).pipe(
          Effect.catchTags({
            // A gap means an earlier batch was lost: acknowledge what is stored so the runner resends from there.
            RseqGap: (gap) => Effect.succeed({ ackedThrough: gap.expected - 1 }),
            SessionMissing: () => new UnknownSession({ error: `session ${sessionId} was deleted`, sessionId })
          })
        )
        return { ackedThrough: result.ackedThrough }
      }
    )

    /** Tells the host's live connection (if on this instance) that commands are waiting. */
    const wake = (hostId: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const connection = byHost.get(hostId)
        return connection === undefined ? Effect.void : Queue.offer(connection.wake, undefined).pipe(Effect.asVoid)
      })

    /** Online here, or (with several server instances) connected to another recently. */
    const isOnline = (host: { readonly id: string; readonly connectedAt: number | null; readonly lastSeenAt: number | null }) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        byHost.has(host.id) ||
        (host.connectedAt !== null && host.lastSeenAt !== null && now - host.lastSeenAt < Duration.toMillis(DEAD_PEER_AFTER)))

    return { connect, ack, heartbeat, pushEvents, wake, isOnline } as const
  })
}) {}

