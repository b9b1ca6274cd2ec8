/**
 * A fake model provider for tests: an HTTP server on 127.0.0.1 (port 0) that
 * speaks the providers' real wire formats, so the official SDKs and agent
 * CLIs can be pointed at it with their base-URL settings and a dummy key.
 *
 * Routes (the query string is ignored, `/v1/messages?beta=true` included):
 * - `POST /v1/messages`          Anthropic Messages (./anthropic.ts)
 * - `POST /v1/responses`         OpenAI Responses (./openai-responses.ts)
 * - `POST /v1/chat/completions`  OpenAI Chat Completions (./openai-chat.ts)
 * - `GET  /v1/models`            the configured models, in a shape both
 *   Anthropic's and OpenAI's clients read (`data[]` with `id`, `object`,
 *   `type`, `display_name`, `created`, `created_at`, `owned_by`, and
 *   `context_window` when given; `has_more`, `first_id`, `last_id`)
 * - anything else: 404 in OpenAI's error shape (still recorded).
 *
 * Each POST takes the next turn of one FIFO script shared by all formats
 * (`script(...)`); with none left it answers 500 "fake model server: no
 * scripted turn" in the format's error shape (with `x-should-retry: false`,
 * so SDKs do not retry it). Every request is recorded, in arrival order,
 * before it is answered. `aborted` counts responses whose client disconnected
 * before they ended. `close()` drops every connection, hanging ones too.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { anthropicMessages } from "./anthropic.js"
import { openAiChatCompletions } from "./openai-chat.js"
import { openAiResponses } from "./openai-responses.js"
import { errorHeaders, Reply, type WireFormat } from "./reply.js"
import type { FakeModelServer, FakeModelServerOptions, RecordedRequest, ScriptedTurn } from "./types.js"

export type { FakeModel, FakeModelServer, FakeModelServerOptions, RecordedRequest, ScriptedTurn, ScriptedUsage } from "./types.js"

export const NO_SCRIPTED_TURN = "fake model server: no scripted turn"

const formats: ReadonlyMap<string, WireFormat> = new Map([
  ["/v1/messages", anthropicMessages],
  ["/v1/responses", openAiResponses],
  ["/v1/chat/completions", openAiChatCompletions]
])

const DEFAULT_MODELS = [{ id: "claude-fake", context_window: 200_000 }, { id: "gpt-fake", context_window: 128_000 }]

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.once("error", reject)
  })

const parseBody = (text: string): unknown => {
  if (text === "") return null
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

const headerRecord = (request: IncomingMessage): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return headers
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const startFakeModelServer = async (options: FakeModelServerOptions = {}): Promise<FakeModelServer> => {
  const models = options.models ?? DEFAULT_MODELS
  const requests: Array<RecordedRequest> = []
  const turns: Array<ScriptedTurn> = []
  const sockets = new Set<Socket>()
  let aborted = 0
  let idCounter = 0
  const nextId = (prefix: string): string => `${prefix}${++idCounter}`

  const modelList = () => {
    const created = 1_700_000_000
    const data = models.map((model) => ({
      id: model.id,
      object: "model",
      type: "model",
      display_name: model.id,
      created,
      created_at: new Date(created * 1000).toISOString(),
      owned_by: "fake-model-server",
      ...(model.context_window === undefined ? {} : { context_window: model.context_window })
    }))
    return { object: "list", data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null }
  }

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1")
    const text = await readBody(request)
    const body = parseBody(text)
    requests.push({
      method: request.method ?? "GET",
      path: url.pathname,
      headers: headerRecord(request),
      body,
      query: url.search.replace(/^\?/, "")
    })
    const reply = new Reply(request, response)
    response.once("close", () => {
      if (!response.writableFinished) aborted += 1
    })

    const format = formats.get(url.pathname)
    if (format !== undefined && request.method === "POST") {
      const turn = turns.shift()
      if (turn === undefined) {
        return reply.json(500, format.errorBody(500, NO_SCRIPTED_TURN), errorHeaders(false))
      }
      const fields = isRecord(body) ? body : {}
      return format.respond(turn, { reply, body: fields, stream: fields["stream"] === true, nextId })
    }
    if (request.method === "GET" && (url.pathname === "/v1/models" || url.pathname === "/models")) {
      return reply.json(200, modelList())
    }
    const model = /^\/v1\/models\/(.+)$/.exec(url.pathname)
    if (request.method === "GET" && model !== null) {
      const found = modelList().data.find((m) => m.id === decodeURIComponent(model[1] ?? ""))
      if (found !== undefined) return reply.json(200, found)
    }
    reply.json(404, openAiResponses.errorBody(404, `fake model server: no route ${request.method} ${url.pathname}`))
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" })
      response.end(`fake model server: ${String(error)}`)
    })
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.once("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const { port } = server.address() as AddressInfo

  let closing: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...more) => {
      turns.push(...more)
    },
    get aborted() {
      return aborted
    },
    get pending() {
      return turns.length
    },
    clearScript: () => {
      turns.length = 0
    },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      }))
  }
}
