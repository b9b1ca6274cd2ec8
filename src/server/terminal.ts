/**
 * The terminal relay's WebSocket endpoints (frames: docs/protocol/terminal.md):
 *
 * - `GET /v1/runners/terminals/:sessionId`: a runner relays a session's PTY.
 *   Write-scope access token in `Authorization` (as for the runner tunnel);
 *   refused before the upgrade (401/403) otherwise.
 * - `GET /v1/sessions/:id/terminal`: viewers. Credentials: `Authorization:
 *   Bearer`, `X-API-Key`, the web session cookie, or (browsers, which cannot
 *   set headers on a WebSocket) the subprotocol pair
 *   `tether.terminal.v1, tether.token.<token>`: the server selects
 *   `tether.terminal.v1` and never echoes the token, so the client must list
 *   `tether.terminal.v1` first. A request with an `Origin` must come from
 *   the server's own origin or one listed in `TETHER_ALLOWED_ORIGINS`
 *   (comma-separated), else 403. Read scope may watch; write scope may type.
 *
 * Refusals before the upgrade are JSON errors with a 4xx status. After the
 * upgrade, a session that is not a terminal closes with 4404, an undecodable
 * frame with the codec's close code (`closeCodeFor`).
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Socket from "@effect/platform/Socket"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Forbidden, Unauthorized } from "../domain/errors.js"
import { satisfies } from "../domain/scope.js"
import { closeCodeFor, decodeFrame, type TerminalFrame } from "../domain/terminal-frame.js"
import { RUNNER_TERMINAL_ROUTE, TERMINAL_VIEWER_ROUTE } from "../domain/websocket-routes.js"
import { checkScope } from "../services/scope-guard/ScopeGuard.js"
import { type FrameSocket, type RelayTerminal, runnerHello } from "../services/terminal/RelayTerminal.js"
import { TerminalHomes } from "../services/terminal/TerminalHomes.js"
import { TerminalRelay } from "../services/terminal/TerminalRelay.js"
import { FORWARDED_HEADER, forwardingHandlers } from "./terminal-forward.js"
import { TokenStore } from "../services/tokens/TokenStore.js"
import { presentedCredential } from "./authorization.js"
import { authorizeRunner } from "./tunnel.js"

export const VIEWER_PROTOCOL = "tether.terminal.v1"
const TOKEN_PROTOCOL_PREFIX = "tether.token."
export const CLOSE_NOT_A_TERMINAL = 4404

/** The `ws` socket behind a platform Socket (the relay writes to it directly: its hot path). */
interface RawWebSocket {
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
  readonly bufferedAmount: number
}

/** The TCP connection under a WebSocket, as far as batching writes goes. */
interface Corkable {
  cork(): void
  uncork(): void
}

const corkableOf = (socket: unknown): Corkable | null =>
  typeof socket === "object" && socket !== null && "cork" in socket && typeof socket.cork === "function" &&
    "uncork" in socket && typeof socket.uncork === "function"
    ? (socket as Corkable)
    : null

/**
 * The relay's view of a WebSocket. With `tcp` (viewers), frames sent within
 * one turn of the event loop leave together: the first send of a turn corks
 * the TCP connection and the end of that turn (`setImmediate`) uncorks it,
 * so the frames of a turn (output relayed from several runner frames,
 * METADATA, EXIT …) cost one `writev` and one wake-up of the viewer instead
 * of one each. Nothing waits for a later turn; order is kept, since every
 * frame goes through the same socket. The runner's link is not corked: what
 * goes to it (keystrokes above all) leaves at once.
 */
export const frameSocketOf = (ws: RawWebSocket, tcp: Corkable | null): FrameSocket => {
  let corked = false
  const uncork = () => {
    corked = false
    tcp?.uncork()
  }
  return {
    send: (frame) => {
      if (tcp !== null && !corked) {
        corked = true
        tcp.cork()
        setImmediate(uncork)
      }
      ws.send(frame)
    },
    close: (code, reason) => ws.close(code, reason),
    bufferedAmount: () => ws.bufferedAmount
  }
}

const refuse = (error: Unauthorized | Forbidden) =>
  HttpServerResponse.unsafeJson(error, { status: error._tag === "Unauthorized" ? 401 : 403 })

const badRequest = (error: string) => HttpServerResponse.unsafeJson({ _tag: "InvalidRequest", error }, { status: 400 })

interface Handlers {
  /** The first frame, once the raw socket is known. */
  readonly open: (socket: FrameSocket, first: TerminalFrame, raw: Uint8Array) => void
  readonly frame: (frame: TerminalFrame, raw: Uint8Array) => void
  readonly closed: () => void
}

/**
 * Upgrades and pumps frames into `handlers` until the socket closes. Frames
 * are decoded here: garbage closes the socket with the codec's close code.
 */
const serveFrames = (makeHandlers: () => Handlers, batchTurns: boolean) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const socket = yield* request.upgrade
    const handlers = makeHandlers()
    // The upgraded request's TCP socket (the WebSocket's), when the server is Node's.
    const tcp = batchTurns
      ? yield* Effect.try(() => corkableOf(NodeHttpServerRequest.toIncomingMessage(request).socket)).pipe(
        Effect.orElseSucceed(() => null)
      )
      : null
    let ws: RawWebSocket | null = null
    let opened = false
    /** The raw socket, which the platform provides to message handlers' effects. */
    const rawSocket = Effect.flatMap(Effect.serviceOption(Socket.WebSocket), (raw) =>
      Option.isSome(raw) ? Effect.succeed(raw.value as unknown as RawWebSocket) : Effect.die(new Error("no WebSocket in the message handler's context")))
    const onMessage = (data: string | Uint8Array): Effect.Effect<void> | void => {
      if (typeof data === "string") {
        ws?.close(4400, "text messages are not part of the terminal protocol")
        if (ws === null) return Effect.flatMap(rawSocket, (raw) => Effect.sync(() => raw.close(4400, "text message")))
        return
      }
      const decoded = decodeFrame(data)
      if (ws === null) {
        // The first message: learn the raw socket, then handle every later message synchronously.
        return Effect.flatMap(rawSocket, (raw) =>
          Effect.sync(() => {
            ws = raw
            if (Either.isLeft(decoded)) {
              ws.close(closeCodeFor(decoded.left), decoded.left.reason)
              return
            }
            opened = true
            handlers.open(frameSocketOf(ws, tcp), decoded.right, data)
          }))
      }
      if (Either.isLeft(decoded)) {
        ws.close(closeCodeFor(decoded.left), decoded.left.reason)
        return
      }
      if (opened) handlers.frame(decoded.right, data)
    }
    yield* socket.runRaw(onMessage).pipe(
      Effect.catchAll(() => Effect.void),
      Effect.ensuring(Effect.sync(() => {
        if (opened) handlers.closed()
      }))
    )
    return HttpServerResponse.empty()
  })

/** Whether a request's Origin (when it has one) is this server's own or an allowed one. */
export const originAllowed = (
  headers: Readonly<Record<string, string | undefined>>,
  allowed: ReadonlyArray<string>
): boolean => {
  const origin = headers["origin"]
  if (origin === undefined) return true
  let parsed: URL
  try {
    parsed = new URL(origin)
  } catch {
    return false
  }
  if (allowed.includes(parsed.origin)) return true
  return headers["host"] !== undefined && parsed.host === headers["host"]
}

/** The token in a `tether.token.<token>` subprotocol, if the client offered one (after `tether.terminal.v1`). */
export const subprotocolToken = (header: string | undefined): Either.Either<Option.Option<string>, string> => {
  if (header === undefined) return Either.right(Option.none())
  const offered = header.split(",").map((p) => p.trim()).filter((p) => p !== "")
  const tokenIndex = offered.findIndex((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX))
  if (tokenIndex === -1) return Either.right(Option.none())
  if (offered[0] !== VIEWER_PROTOCOL) {
    return Either.left(`offer the ${VIEWER_PROTOCOL} subprotocol first (the server selects it and never echoes a token)`)
  }
  return Either.right(Option.some(offered[tokenIndex]!.slice(TOKEN_PROTOCOL_PREFIX.length)))
}

const RunnerLinkRoute = HttpLayerRouter.add(
  "GET",
  RUNNER_TERMINAL_ROUTE.path,
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const tokens = yield* TokenStore
    const relay = yield* TerminalRelay
    const denied = yield* Effect.flip(authorizeRunner(tokens, request.headers)).pipe(Effect.option)
    if (Option.isSome(denied)) return refuse(denied.value)
    const sessionId = (yield* HttpLayerRouter.params)["sessionId"] ?? ""
    const terminal = yield* Effect.either(relay.terminalFor(sessionId))
    return yield* serveFrames(() => {
      let socket: FrameSocket | null = null
      let relayTerminal: RelayTerminal | null = null
      return {
        open: (opened, first) => {
          socket = opened
          if (Either.isLeft(terminal)) {
            opened.close(CLOSE_NOT_A_TERMINAL, terminal.left.message.slice(0, 120))
            return
          }
          const hello = runnerHello(first)
          if (hello === null) {
            opened.close(4400, "the first frame must be METADATA {cols, rows} (and optionally from)")
            return
          }
          relayTerminal = terminal.right
          relayTerminal.attachRunner(opened, hello)
        },
        frame: (frame, raw) => {
          if (socket !== null) relayTerminal?.runnerFrame(socket, frame, raw)
        },
        closed: () => {
          if (socket !== null) relayTerminal?.runnerClosed(socket)
        }
      }
    }, false)
  })
)

const ViewerRoute = HttpLayerRouter.add(
  "GET",
  TERMINAL_VIEWER_ROUTE.path,
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const tokens = yield* TokenStore
    const relay = yield* TerminalRelay
    const allowedOrigins = yield* Config.array(Config.string(), "TETHER_ALLOWED_ORIGINS").pipe(
      Config.withDefault([] as ReadonlyArray<string>),
      Effect.orElseSucceed(() => [] as ReadonlyArray<string>)
    )
    if (!originAllowed(request.headers, allowedOrigins)) {
      return refuse(new Forbidden({ error: "this Origin may not open terminals on this server (TETHER_ALLOWED_ORIGINS)", required: "read", granted: "read" }))
    }
    const fromProtocol = subprotocolToken(request.headers["sec-websocket-protocol"])
    if (Either.isLeft(fromProtocol)) return badRequest(fromProtocol.left)
    const credential = Option.orElse(presentedCredential(request.headers), () => fromProtocol.right)
    if (Option.isNone(credential)) {
      return refuse(new Unauthorized({ reason: "missing", error: "no access token: send Authorization: Bearer tat_… or the tether.token.<token> subprotocol" }))
    }
    const verified = yield* Effect.either(tokens.verify("access", credential.value))
    if (Either.isLeft(verified)) return refuse(verified.left)
    const row = verified.right.row
    const allowed = checkScope(TERMINAL_VIEWER_ROUTE.rule, "GET", row.scope)
    if (Either.isLeft(allowed)) return refuse(allowed.left)
    const sessionId = (yield* HttpLayerRouter.params)["id"] ?? ""
    // Several instances: a terminal held by another one is served from there (never forwarded twice).
    const homes = yield* TerminalHomes
    const home = Option.isSome(homes.self) && request.headers[FORWARDED_HEADER] === undefined && !relay.holdsRunnerLink(sessionId)
      ? yield* homes.homeOf(sessionId)
      : Option.none()
    if (Option.isSome(home) && Option.isSome(homes.self)) {
      const target = { home: home.value, self: homes.self.value, sessionId, token: credential.value, subprotocol: VIEWER_PROTOCOL }
      return yield* serveFrames(() => forwardingHandlers(target), true)
    }
    const terminal = yield* Effect.either(relay.terminalFor(sessionId))
    if (Either.isLeft(terminal) && terminal.left._tag === "SessionNotFound") {
      return HttpServerResponse.unsafeJson(terminal.left, { status: 404 })
    }
    // Other viewers see this id and name: the token's id (not its prefix, which is part of the secret).
    const identity = { id: `${row.id}-${crypto.randomUUID().slice(0, 8)}`, name: row.name, canWrite: satisfies(row.scope, "write") }
    return yield* serveFrames(() => {
      let viewer: ReturnType<RelayTerminal["addViewer"]> | null = null
      let relayTerminal: RelayTerminal | null = null
      return {
        open: (socket, first) => {
          if (Either.isLeft(terminal)) {
            socket.close(CLOSE_NOT_A_TERMINAL, terminal.left.message.slice(0, 120))
            return
          }
          relayTerminal = terminal.right
          viewer = relayTerminal.addViewer(socket, identity)
          relayTerminal.viewerFrame(viewer, first)
        },
        frame: (frame) => {
          if (viewer !== null) relayTerminal?.viewerFrame(viewer, frame)
        },
        closed: () => {
          if (viewer !== null) relayTerminal?.removeViewer(viewer)
        }
      }
    }, true)
  })
)

export const TerminalRoutes = Layer.mergeAll(RunnerLinkRoute, ViewerRoute)
