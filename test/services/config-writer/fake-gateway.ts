/**
 * A small OpenAI/Anthropic-compatible gateway on 127.0.0.1 for the setup
 * tests: the Tether model-gateway contract (`GET /v1/models`, `GET/POST
 * /v1/keys`) plus `POST /v1/chat/completions`, `/v1/responses` and
 * `/v1/messages`, which record what arrived (path, model, credentials) and
 * answer with a minimal valid streamed reply. Plain node:http, real socket.
 */
import * as NodeCrypto from "node:crypto"
import * as NodeHttp from "node:http"
import type { AddressInfo } from "node:net"
import { formatToken } from "../../../src/domain/token-format.js"

export interface GatewayModel {
  readonly id: string
  readonly contextWindow?: number | null
  readonly maxOutputTokens?: number | null
}

export interface RecordedRequest {
  readonly path: string
  readonly model: string | undefined
  readonly authorization: string | undefined
  readonly apiKeyHeader: string | undefined
}

export interface FakeGateway {
  readonly url: string
  readonly requests: Array<RecordedRequest>
  readonly createdKeys: Array<string>
  /** Resolves with the first inference request for which `match` holds (or rejects after `timeoutMs`). */
  readonly waitFor: (match: (r: RecordedRequest) => boolean, timeoutMs: number) => Promise<RecordedRequest>
  readonly close: () => Promise<void>
}

const randomBase62 = (n: number): string => {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
  let out = ""
  while (out.length < n) {
    for (const b of NodeCrypto.randomBytes(n)) if (b < 248 && out.length < n) out += alphabet[b % 62]
  }
  return out
}

const readBody = (req: NodeHttp.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const sse = (res: NodeHttp.ServerResponse, events: ReadonlyArray<{ event?: string; data: unknown }>) => {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
  for (const e of events) {
    res.write(`${e.event !== undefined ? `event: ${e.event}\n` : ""}data: ${typeof e.data === "string" ? e.data : JSON.stringify(e.data)}\n\n`)
  }
  res.end()
}

export const startFakeGateway = async (options: {
  readonly models: ReadonlyArray<GatewayModel>
  /** Tokens accepted for listing models (tat_ or tsk_). */
  readonly tokens: ReadonlyArray<string>
  /** Tokens allowed to manage keys. */
  readonly adminTokens?: ReadonlyArray<string>
}): Promise<FakeGateway> => {
  const requests: Array<RecordedRequest> = []
  const createdKeys: Array<string> = []
  const waiters: Array<{ match: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }> = []
  const bearer = (req: NodeHttp.IncomingMessage) => req.headers.authorization?.replace(/^Bearer\s+/i, "")

  const server = NodeHttp.createServer((req, res) => {
    void (async () => {
      const body = await readBody(req)
      const path = (req.url ?? "/").split("?")[0] ?? "/"
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" })
        res.end(JSON.stringify(value))
      }
      if (req.method === "GET" && path === "/v1/models") {
        const token = bearer(req)
        if (token === undefined || ![...options.tokens, ...createdKeys].includes(token)) return json(401, { error: "unauthorized" })
        return json(200, {
          object: "list",
          data: options.models.map((m) => ({
            id: m.id,
            object: "model",
            created: 1_700_000_000,
            owned_by: m.id.split("/")[0],
            context_window: m.contextWindow ?? null,
            max_output_tokens: m.maxOutputTokens ?? null
          }))
        })
      }
      if (path === "/v1/keys") {
        const token = bearer(req)
        if (token === undefined || !(options.adminTokens ?? []).includes(token)) return json(403, { error: "admin scope required" })
        if (req.method === "POST") {
          const payload = JSON.parse(body) as { name: string; models?: Array<string> }
          const secret = formatToken("inference", randomBase62(32))
          createdKeys.push(secret)
          const now = new Date().toISOString()
          return json(201, {
            key: {
              id: `key_${createdKeys.length}`,
              name: payload.name,
              prefix: secret.slice(0, 10),
              models: payload.models ?? null,
              createdAt: now,
              expiresAt: null,
              lastUsedAt: null,
              revokedAt: null
            },
            secret
          })
        }
        return json(200, { keys: [] })
      }
      if (req.method === "POST" && ["/v1/chat/completions", "/v1/responses", "/v1/messages"].includes(path)) {
        let parsed: Record<string, unknown> = {}
        try {
          parsed = JSON.parse(body) as Record<string, unknown>
        } catch {
          // recorded with no model
        }
        const recorded: RecordedRequest = {
          path,
          model: typeof parsed["model"] === "string" ? parsed["model"] : undefined,
          authorization: req.headers.authorization,
          apiKeyHeader: typeof req.headers["x-api-key"] === "string" ? req.headers["x-api-key"] : undefined
        }
        requests.push(recorded)
        for (const w of [...waiters]) {
          if (w.match(recorded)) {
            waiters.splice(waiters.indexOf(w), 1)
            w.resolve(recorded)
          }
        }
        const model = recorded.model ?? "unknown"
        if (path === "/v1/chat/completions") {
          const chunk = (delta: unknown, finish: string | null) => ({
            id: "chatcmpl-1",
            object: "chat.completion.chunk",
            created: 1_700_000_000,
            model,
            choices: [{ index: 0, delta, finish_reason: finish }]
          })
          if (parsed["stream"] !== true) {
            return json(200, {
              id: "chatcmpl-1",
              object: "chat.completion",
              created: 1_700_000_000,
              model,
              choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
              usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }
            })
          }
          return sse(res, [
            { data: chunk({ role: "assistant", content: "ok" }, null) },
            { data: { ...chunk({}, "stop"), usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } },
            { data: "[DONE]" }
          ])
        }
        if (path === "/v1/responses") {
          const item = { type: "message", role: "assistant", id: "msg_1", status: "completed", content: [{ type: "output_text", text: "ok", annotations: [] }] }
          return sse(res, [
            { event: "response.created", data: { type: "response.created", response: { id: "resp_1", model, status: "in_progress", output: [] } } },
            { event: "response.output_item.done", data: { type: "response.output_item.done", output_index: 0, item } },
            {
              event: "response.completed",
              data: {
                type: "response.completed",
                response: {
                  id: "resp_1",
                  model,
                  status: "completed",
                  output: [item],
                  usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } }
                }
              }
            }
          ])
        }
        return json(200, {
          id: "msg_1",
          type: "message",
          role: "assistant",
          model,
          content: [{ type: "text", text: "ok" }],
          stop_reason: "end_turn",
          usage: { input_tokens: 1, output_tokens: 1 }
        })
      }
      json(404, { error: `no route ${req.method} ${path}` })
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    createdKeys,
    waitFor: (match, timeoutMs) => {
      const already = requests.find(match)
      if (already !== undefined) return Promise.resolve(already)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching request within ${timeoutMs} ms; got ${JSON.stringify(requests)}`)), timeoutMs)
        waiters.push({ match, resolve: (r) => {
          clearTimeout(timer)
          resolve(r)
        } })
      })
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
