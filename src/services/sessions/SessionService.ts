/**
 * SessionService: what clients can do with sessions. The server owns turn
 * state: it records what clients send (user messages, approval decisions)
 * as events, queues what the host must do as durable commands, and builds
 * snapshots from the stored session, its events and its queue.
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import {
  ApprovalNotPending,
  HostChoiceRequired,
  HostNotFound,
  InvalidRequest,
  SessionFinished,
  SessionNotFound
} from "../../domain/errors.js"
import type { Principal } from "../../domain/principal.js"
import { actorName } from "../../domain/principal.js"
import type { RunnerCommand } from "../../domain/rpc/tunnel.js"
import {
  type CreateSessionRequest,
  InputAccepted,
  Session,
  type SessionInput,
  type SessionListQuery,
  SessionPage,
  type UpdateSessionRequest
} from "../../domain/session.js"
import { isFinished, type SessionEvent } from "../../domain/session-event.js"
import { HostRepo, type HostRow } from "../hosts/HostRepo.js"
import { decodeCursor, encodeCursor } from "../storage/cursor.js"
import { newId } from "../tokens/secret.js"
import { TerminalRelay } from "../terminal/TerminalRelay.js"
import { HOST_OFFLINE, RunnerTunnel } from "../tunnel/RunnerTunnel.js"
import { CommandQueue } from "./CommandQueue.js"
import { EventStore } from "./EventStore.js"
import { SessionJournal } from "./SessionJournal.js"
import { SessionRepo, type SessionRow } from "./SessionRepo.js"

type CommandBody = RunnerCommand extends infer C ? C extends RunnerCommand ? Omit<C, "commandSeq"> : never : never

const DEFAULT_PAGE = 50

/** A session as created: idle if its host is online, otherwise waiting for it. */
const newSessionRow = (spec: {
  readonly hostId: string
  readonly harness: string
  readonly cwd: string
  readonly args: ReadonlyArray<string>
  readonly title: string | null
  readonly online: boolean
  readonly now: number
  readonly createdBy: string
  readonly forkedFrom: { readonly sessionId: string; readonly upToSeq: number } | null
}): SessionRow => ({
  id: newId("ses"),
  hostId: spec.hostId,
  harness: spec.harness,
  cwd: spec.cwd,
  args: spec.args,
  title: spec.title,
  status: spec.online ? "idle" : "waiting_host",
  statusReason: spec.online ? null : HOST_OFFLINE,
  exitCode: null,
  archived: false,
  createdAt: spec.now,
  updatedAt: spec.now,
  lastSeq: 0,
  lastRseq: 0,
  forkedFrom: spec.forkedFrom?.sessionId ?? null,
  forkedUpToSeq: spec.forkedFrom?.upToSeq ?? null,
  createdBy: spec.createdBy
})

export class SessionService extends Effect.Service<SessionService>()("tether/SessionService", {
  effect: Effect.gen(function*() {
    const sessions = yield* SessionRepo
    const hosts = yield* HostRepo
    const store = yield* EventStore
    const commands = yield* CommandQueue
    const journal = yield* SessionJournal
    const tunnel = yield* RunnerTunnel
    const terminals = yield* TerminalRelay

    const notFound = (sessionId: string) => new SessionNotFound({ sessionId, error: `no session ${sessionId}` })

    const load = (sessionId: string) =>
      Effect.flatMap(sessions.get(sessionId), Option.match({
        onNone: () => Effect.fail(notFound(sessionId)),
        onSome: Effect.succeed
      }))

    const hostOf = (row: SessionRow) => Effect.map(hosts.get(row.hostId), Option.getOrUndefined)

    const snapshot = Effect.fn("SessionService.snapshot")(function*(row: SessionRow) {
      const host = yield* hostOf(row)
      const approvals = yield* store.readByTypes(row.id, ["approval_request", "approval_resolved"])
      const resolved = new Set(
        approvals.flatMap((r) => (r.event.type === "approval_resolved" ? [r.event.requestId] : []))
      )
      const pendingApprovals = approvals.flatMap((r) =>
        r.event.type === "approval_request" && !resolved.has(r.event.requestId) ? [{ ...r.event, seq: r.seq }] : []
      )
      const queued = yield* commands.pendingForSession(row.id)
      return new Session({
        id: row.id,
        title: row.title,
        harness: row.harness,
        hostId: row.hostId,
        hostName: host?.name ?? "(removed host)",
        hostOnline: host === undefined ? false : yield* tunnel.isOnline(host),
        cwd: row.cwd,
        args: row.args,
        status: row.status,
        statusReason: row.statusReason,
        exitCode: row.exitCode,
        archived: row.archived,
        createdAt: DateTime.unsafeMake(row.createdAt),
        updatedAt: DateTime.unsafeMake(row.updatedAt),
        lastSeq: row.lastSeq,
        forkedFrom: row.forkedFrom === null ? null : { sessionId: row.forkedFrom, upToSeq: row.forkedUpToSeq ?? 0 },
        pendingApprovals,
        queuedInputs: queued.map(({ command, createdAt }) => ({
          id: `${row.hostId}:${command.commandSeq}`,
          kind: command.type === "start_session"
            ? "start" as const
            : command.type === "send_input"
            ? "message" as const
            : command.type === "resolve_approval"
            ? "approval" as const
            : command.type,
          text: command.type === "send_input" ? command.text : null,
          queuedAt: DateTime.unsafeMake(createdAt)
        }))
      })
    })

    /** Queues a command for the session's host and wakes its connection. */
    const dispatch = (row: SessionRow, body: CommandBody) =>
      Effect.gen(function*() {
        const command = yield* commands.enqueue(row.hostId, body, yield* Clock.currentTimeMillis)
        yield* tunnel.wake(row.hostId)
        const host = yield* hostOf(row)
        const online = host !== undefined && (yield* tunnel.isOnline(host))
        return new InputAccepted({
          delivery: online ? "sent" : "queued",
          inputId: `${row.hostId}:${command.commandSeq}`
        })
      })

    /** Asks the host to start a new session (its runner numbers events from 1). */
    const dispatchStart = (row: SessionRow, prompt: string | null, size?: { readonly cols: number; readonly rows: number }) =>
      dispatch(row, {
        type: "start_session",
        sessionId: row.id,
        harness: row.harness,
        cwd: row.cwd,
        args: row.args,
        prompt,
        lastRseq: 0,
        ...(size === undefined ? {} : { size })
      })

    const chooseHost = (requested: string | undefined): Effect.Effect<HostRow, HostNotFound | HostChoiceRequired> =>
      Effect.gen(function*() {
        if (requested !== undefined) {
          const found = yield* hosts.findByIdOrName(requested)
          if (Option.isNone(found)) {
            return yield* new HostNotFound({ host: requested, error: `no host named or with id ${JSON.stringify(requested)}` })
          }
          return found.value
        }
        const all = yield* hosts.list()
        const choices = yield* Effect.forEach(all, (h) => Effect.map(tunnel.isOnline(h), (online) => ({ host: h, online })))
        const online = choices.filter((c) => c.online)
        if (online.length === 1 && online[0] !== undefined) return online[0].host
        return yield* new HostChoiceRequired({
          error: online.length === 0
            ? "no host is online: start `tether host` on the machine that should run it, or name an offline host to queue"
            : `${online.length} hosts are online: name one with hostId`,
          hosts: choices.map((c) => ({ id: c.host.id, name: c.host.name, online: c.online }))
        })
      })

    const create = Effect.fn("SessionService.create")(function*(request: CreateSessionRequest, principal: Principal) {
      const host = yield* chooseHost(request.hostId)
      const now = yield* Clock.currentTimeMillis
      const online = yield* tunnel.isOnline(host)
      const row = newSessionRow({
        hostId: host.id,
        harness: request.harness,
        cwd: request.cwd,
        args: request.args,
        title: request.title ?? null,
        online,
        now,
        createdBy: actorName(principal),
        forkedFrom: null
      })
      yield* sessions.insert(row)
      const events: Array<SessionEvent> = [
        { type: "status", status: row.status, reason: row.statusReason, exitCode: null }
      ]
      if (request.prompt !== undefined && request.prompt !== "") {
        events.push({ type: "message", messageId: newId("msg"), role: "user", text: request.prompt })
      }
      yield* journal.record(row.id, events)
      yield* dispatchStart(row, request.prompt ?? null, request.size)
      return yield* snapshot(yield* load(row.id))
    })

    const get = Effect.fn("SessionService.get")(function*(sessionId: string) {
      return yield* snapshot(yield* load(sessionId))
    })

    const list = Effect.fn("SessionService.list")(function*(query: SessionListQuery) {
      const limit = query.limit ?? DEFAULT_PAGE
      const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
      const before = position === undefined ? undefined : { createdAt: position.at, id: position.id }
      if (query.cursor !== undefined && position === undefined) {
        return yield* new InvalidRequest({ error: "cursor is not one this server handed out" })
      }
      let hostId: string | undefined
      if (query.host !== undefined) {
        const host = yield* hosts.findByIdOrName(query.host)
        if (Option.isNone(host)) return new SessionPage({ sessions: [], nextCursor: null })
        hostId = host.value.id
      }
      const rows = yield* sessions.list({
        limit: limit + 1,
        ...(query.status !== undefined ? { status: query.status } : {}),
        ...(hostId !== undefined ? { hostId } : {}),
        ...(query.harness !== undefined ? { harness: query.harness } : {}),
        ...(query.archived !== undefined ? { archived: query.archived } : {}),
        ...(before !== undefined ? { before } : {})
      })
      const page = rows.slice(0, limit)
      const last = page[page.length - 1]
      return new SessionPage({
        sessions: yield* Effect.forEach(page, snapshot),
        nextCursor: rows.length > limit && last !== undefined ? encodeCursor({ at: last.createdAt, id: last.id }) : null
      })
    })

    const update = Effect.fn("SessionService.update")(function*(sessionId: string, patch: UpdateSessionRequest) {
      const updated = yield* sessions.update(
        sessionId,
        {
          ...(patch.title !== undefined ? { title: patch.title === null || patch.title === "" ? null : patch.title } : {}),
          ...(patch.archived !== undefined ? { archived: patch.archived } : {})
        },
        yield* Clock.currentTimeMillis
      )
      if (Option.isNone(updated)) return yield* notFound(sessionId)
      return yield* snapshot(updated.value)
    })

    /** Stops it on its host if it still runs, then deletes it and its history. */
    const remove = Effect.fn("SessionService.remove")(function*(sessionId: string) {
      const row = yield* load(sessionId)
      const deleted = yield* sessions.delete(sessionId)
      if (!deleted) return yield* notFound(sessionId)
      yield* terminals.forget(sessionId)
      if (!isFinished(row.status)) {
        yield* commands.enqueue(row.hostId, { type: "stop", sessionId }, yield* Clock.currentTimeMillis)
        yield* tunnel.wake(row.hostId)
      }
    })

    const send = Effect.fn("SessionService.send")(
      function*(
        sessionId: string,
        input: SessionInput,
        principal: Principal
      ): Effect.fn.Return<InputAccepted, SessionNotFound | SessionFinished | ApprovalNotPending> {
        const row = yield* load(sessionId)
        if (isFinished(row.status)) {
          return yield* new SessionFinished({
            sessionId,
            error: `session ${sessionId} has ${row.status === "exited" ? "exited" : "failed"}; it takes no more input`
          })
        }
        switch (input.type) {
          case "message": {
            yield* journal.record(sessionId, [{ type: "message", messageId: newId("msg"), role: "user", text: input.text }])
            return yield* dispatch(row, { type: "send_input", sessionId, text: input.text })
          }
          case "interrupt":
            return yield* dispatch(row, { type: "interrupt", sessionId })
          case "stop":
            return yield* dispatch(row, { type: "stop", sessionId })
          case "approval": {
            const current = yield* snapshot(row)
            if (!current.pendingApprovals.some((a) => a.requestId === input.requestId)) {
              return yield* new ApprovalNotPending({
                requestId: input.requestId,
                error: `no approval ${input.requestId} is waiting in session ${sessionId}`
              })
            }
            yield* journal.record(sessionId, [{
              type: "approval_resolved",
              requestId: input.requestId,
              decision: input.decision,
              note: input.note ?? null,
              by: actorName(principal)
            }])
            return yield* dispatch(row, {
              type: "resolve_approval",
              sessionId,
              requestId: input.requestId,
              decision: input.decision,
              note: input.note ?? null
            })
          }
        }
      }
    )

    /** A new session on the same host with the history up to `upToSeq` (default: all) copied. */
    const fork = Effect.fn("SessionService.fork")(function*(sessionId: string, upToSeq: number | undefined, principal: Principal) {
      const source = yield* load(sessionId)
      const through = upToSeq ?? source.lastSeq
      if (through > source.lastSeq) {
        return yield* new InvalidRequest({ error: `upToSeq ${through} is beyond the session's last event (${source.lastSeq})` })
      }
      const now = yield* Clock.currentTimeMillis
      const host = yield* hosts.get(source.hostId)
      const online = Option.isSome(host) && (yield* tunnel.isOnline(host.value))
      const row = newSessionRow({
        hostId: source.hostId,
        harness: source.harness,
        cwd: source.cwd,
        args: source.args,
        title: `fork of ${source.title ?? source.id}`,
        online,
        now,
        createdBy: actorName(principal),
        forkedFrom: { sessionId: source.id, upToSeq: through }
      })
      yield* sessions.insert(row)
      yield* store.copyHistory(source.id, row.id, through, now).pipe(
        Effect.catchTag("SessionMissing", () => notFound(source.id))
      )
      yield* journal.record(row.id, [{
        type: "status",
        status: row.status,
        reason: online ? `forked from ${source.id} at ${through}` : HOST_OFFLINE,
        exitCode: null
      }])
      yield* dispatchStart(row, null)
      return yield* snapshot(yield* load(row.id))
    })

    return { create, get, list, update, remove, send, fork, exists: (id: string) => Effect.asVoid(load(id)) } as const
  })
}) {}
