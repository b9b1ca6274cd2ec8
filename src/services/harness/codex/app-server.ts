/**
 * A connection to one `codex app-server` process: JSON-RPC messages, one JSON
 * object per line, over the process's stdin (ours to write) and stdout (its
 * to write). The protocol is the one `codex app-server generate-ts` prints
 * (messages carry `id`/`method`/`params`/`result`/`error`, without a
 * `jsonrpc` field).
 *
 * Contract:
 * - `request` sends a request and resolves with its `result`, or rejects
 *   with an `AppServerError` (the server's `error`, or the process having
 *   ended / the connection closed).
 * - `notify` sends a notification (no answer).
 * - Notifications from the server go to `onNotification` in arrival order;
 *   requests from the server (approvals …) go to `onRequest`, whose promise
 *   gives the `result` sent back (a rejection is answered with an error).
 * - `onExit` runs once when the process ends; pending requests then reject.
 * - `close` ends stdin, which makes app-server exit on its own.
 *
 * The module knows nothing about sessions: `codex.ts` drives it.
 */
import type { ChildProcess } from "node:child_process"
import { createInterface } from "node:readline"

export class AppServerError extends Error {
  constructor(message: string, readonly code: number | null = null) {
    super(message)
    this.name = "AppServerError"
  }
}

export interface AppServerHandlers {
  readonly onNotification: (method: string, params: unknown) => void
  readonly onRequest: (method: string, params: unknown) => Promise<unknown>
  readonly onExit: (code: number | null, signal: NodeJS.Signals | null) => void
}

interface Waiter {
  readonly resolve: (result: unknown) => void
  readonly reject: (error: AppServerError) => void
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

const errorOf = (value: unknown): AppServerError => {
  if (isRecord(value) && typeof value["message"] === "string") {
    return new AppServerError(value["message"], typeof value["code"] === "number" ? value["code"] : null)
  }
  return new AppServerError(`the app-server answered with an error: ${JSON.stringify(value)}`)
}

export class AppServerConnection {
  private nextId = 1
  private readonly waiting = new Map<number, Waiter>()
  private ended: AppServerError | null = null

  constructor(private readonly child: ChildProcess, private readonly handlers: AppServerHandlers) {
    if (child.stdout === null || child.stdin === null) throw new AppServerError("the app-server process has no stdio")
    // Writes after the process ended fail with EPIPE; `ended` reports that to callers instead.
    child.stdin.on("error", () => {})
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity })
    lines.on("line", (line) => this.receive(line))
    child.once("exit", (code, signal) => {
      this.end(new AppServerError(`the Codex app-server ended (${signal ?? `exit code ${code ?? "unknown"}`})`))
      handlers.onExit(code, signal)
    })
  }

  request(method: string, params: unknown): Promise<unknown> {
    if (this.ended !== null) return Promise.reject(this.ended)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.write({ id, method, params })
    })
  }

  notify(method: string, params?: unknown): void {
    this.write(params === undefined ? { method } : { method, params })
  }

  /** Ends stdin: app-server exits once its input is closed. */
  close(): void {
    this.end(new AppServerError("the connection to the Codex app-server was closed"))
    this.child.stdin?.end()
  }

  private end(error: AppServerError): void {
    if (this.ended !== null) return
    this.ended = error
    for (const waiter of this.waiting.values()) waiter.reject(error)
    this.waiting.clear()
  }

  private write(message: unknown): void {
    if (this.ended !== null) return
    this.child.stdin?.write(`${JSON.stringify(message)}\n`)
  }

  private receive(line: string): void {
    if (line.trim() === "") return
    let message: unknown
    try {
      message = JSON.parse(line)
    } catch {
      return // not protocol output
    }
    if (!isRecord(message)) return
    const id = message["id"]
    const method = message["method"]
    if (typeof method === "string") {
      if (id === undefined || id === null) return this.handlers.onNotification(method, message["params"])
      this.handlers.onRequest(method, message["params"]).then(
        (result) => this.write({ id, result }),
        (error: unknown) => this.write({ id, error: { code: -32603, message: error instanceof Error ? error.message : String(error) } })
      )
      return
    }
    if (typeof id !== "number") return
    const waiter = this.waiting.get(id)
    if (waiter === undefined) return
    this.waiting.delete(id)
    if ("error" in message && message["error"] !== undefined && message["error"] !== null) waiter.reject(errorOf(message["error"]))
    else waiter.resolve(message["result"])
  }
}
