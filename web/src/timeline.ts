/**
 * The session timeline as the page shows it, folded from the stored event
 * records: message deltas join their message (streaming until the final
 * message arrives), tool results join their call, approval decisions join
 * their request, usage is summed. Pure: no DOM, no I/O.
 */
import type { EventRecord } from "./session-stream.js"

export type Item =
  | { readonly kind: "message"; readonly key: string; role: string; text: string; streaming: boolean }
  | {
    readonly kind: "tool"
    readonly key: string
    readonly name: string
    readonly input: unknown
    result: { readonly output: unknown; readonly isError: boolean } | null
  }
  | {
    readonly kind: "approval"
    readonly key: string
    readonly requestId: string
    readonly tool: string
    readonly input: unknown
    readonly description: string | null
    resolved: { readonly decision: string; readonly note: string | null; readonly by: string | null } | null
  }
  | { readonly kind: "status"; readonly key: string; readonly status: string; readonly reason: string | null; readonly exitCode: number | null }
  | { readonly kind: "error"; readonly key: string; readonly message: string }

export interface Timeline {
  readonly items: ReadonlyArray<Item>
  readonly status: string | null
  readonly usage: { input: number; output: number; cost: number }
}

const str = (value: unknown): string => (typeof value === "string" ? value : "")

/** Folds the event records into timeline items (deltas join their message; results join their call). */
export const buildTimeline = (events: ReadonlyArray<EventRecord>): Timeline => {
  const items: Array<Item> = []
  const messages = new Map<string, Extract<Item, { kind: "message" }>>()
  const tools = new Map<string, Extract<Item, { kind: "tool" }>>()
  const approvals = new Map<string, Extract<Item, { kind: "approval" }>>()
  const usage = { input: 0, output: 0, cost: 0 }
  let status: string | null = null
  for (const { event, seq } of events) {
    switch (event.type) {
      case "message_delta": {
        const id = str(event["messageId"])
        const existing = messages.get(id)
        if (existing !== undefined) existing.text += str(event["text"])
        else {
          const item = { kind: "message" as const, key: `m${seq}`, role: "assistant", text: str(event["text"]), streaming: true }
          messages.set(id, item)
          items.push(item)
        }
        break
      }
      case "message": {
        const id = str(event["messageId"])
        const existing = messages.get(id)
        if (existing !== undefined) {
          existing.text = str(event["text"])
          existing.role = str(event["role"])
          existing.streaming = false
        } else {
          const item = { kind: "message" as const, key: `m${seq}`, role: str(event["role"]), text: str(event["text"]), streaming: false }
          messages.set(id, item)
          items.push(item)
        }
        break
      }
      case "tool_call": {
        const item = { kind: "tool" as const, key: `t${seq}`, name: str(event["name"]), input: event["input"], result: null }
        tools.set(str(event["callId"]), item)
        items.push(item)
        break
      }
      case "tool_result": {
        const call = tools.get(str(event["callId"]))
        const result = { output: event["output"], isError: event["isError"] === true }
        if (call !== undefined) call.result = result
        else items.push({ kind: "tool", key: `t${seq}`, name: "(result)", input: null, result })
        break
      }
      case "approval_request": {
        const item = {
          kind: "approval" as const,
          key: `a${seq}`,
          requestId: str(event["requestId"]),
          tool: str(event["tool"]),
          input: event["input"],
          description: typeof event["description"] === "string" ? event["description"] : null,
          resolved: null
        }
        approvals.set(item.requestId, item)
        items.push(item)
        break
      }
      case "approval_resolved": {
        const approval = approvals.get(str(event["requestId"]))
        if (approval !== undefined) {
          approval.resolved = {
            decision: str(event["decision"]),
            note: typeof event["note"] === "string" ? event["note"] : null,
            by: typeof event["by"] === "string" ? event["by"] : null
          }
        }
        break
      }
      case "status":
        status = str(event["status"])
        items.push({
          kind: "status",
          key: `s${seq}`,
          status,
          reason: typeof event["reason"] === "string" ? event["reason"] : null,
          exitCode: typeof event["exitCode"] === "number" ? event["exitCode"] : null
        })
        break
      case "usage":
        usage.input += Number(event["inputTokens"] ?? 0)
        usage.output += Number(event["outputTokens"] ?? 0)
        usage.cost += Number(event["costUsd"] ?? 0)
        break
      case "error":
        items.push({ kind: "error", key: `e${seq}`, message: str(event["message"]) })
        break
    }
  }
  return { items, status, usage }
}
