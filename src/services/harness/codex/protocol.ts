/**
 * The few shapes of the `codex app-server` protocol (Codex 0.169, v2 API)
 * that the `codex` harness reads or writes, written down from what
 * `codex app-server generate-ts` prints, and decoders that read them from
 * untyped JSON-RPC params without trusting them. Only the fields the harness
 * uses are named; everything else passes through untouched.
 */

export type ApprovalPolicy = "untrusted" | "on-request" | "never"
export type SandboxMode = "read-only" | "workspace-write" | "danger-full-access"

/** `accept | acceptForSession | decline | cancel`: the answer to an approval request. */
export type ApprovalReply = "accept" | "acceptForSession" | "decline" | "cancel"

export interface TokenTotals {
  readonly inputTokens: number
  readonly cachedInputTokens: number
  readonly cacheWriteInputTokens: number
  readonly outputTokens: number
}

/** A thread item as far as the harness cares (`type` and `id` always; the rest per type). */
export type Item = Readonly<Record<string, unknown>> & { readonly type: string; readonly id: string }

export interface TurnInfo {
  readonly id: string
  readonly status: string
  readonly errorMessage: string | null
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

export const field = (value: unknown, name: string): unknown => (isRecord(value) ? value[name] : undefined)

export const stringField = (value: unknown, name: string): string | null => {
  const found = field(value, name)
  return typeof found === "string" ? found : null
}

const numberField = (value: unknown, name: string): number => {
  const found = field(value, name)
  return typeof found === "number" && Number.isFinite(found) ? found : 0
}

export const itemOf = (params: unknown): Item | null => {
  const item = field(params, "item")
  if (!isRecord(item) || typeof item["type"] !== "string" || typeof item["id"] !== "string") return null
  return item as Item
}

export const turnOf = (value: unknown): TurnInfo | null => {
  const turn = field(value, "turn")
  const id = stringField(turn, "id")
  if (id === null) return null
  return { id, status: stringField(turn, "status") ?? "completed", errorMessage: stringField(field(turn, "error"), "message") }
}

/** `tokenUsage.total` of a `thread/tokenUsage/updated` notification. */
export const totalsOf = (params: unknown): TokenTotals | null => {
  const total = field(field(params, "tokenUsage"), "total")
  if (!isRecord(total)) return null
  return {
    inputTokens: numberField(total, "inputTokens"),
    cachedInputTokens: numberField(total, "cachedInputTokens"),
    cacheWriteInputTokens: numberField(total, "cacheWriteInputTokens"),
    outputTokens: numberField(total, "outputTokens")
  }
}

/** One text input, the way `turn/start` and `turn/steer` take it. */
export const textInput = (text: string) => [{ type: "text", text, text_elements: [] }] as const
