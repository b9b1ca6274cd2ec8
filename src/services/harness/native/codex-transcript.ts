/**
 * Codex's rollout transcript: where it is and what its lines mean.
 *
 * Location: `<CODEX_HOME or ~/.codex>/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl`.
 * A new session's file is the first rollout in the day directories around
 * the start (UTC and local dates, the day before included) that did not
 * exist before the start and whose `session_meta` line names this working
 * directory. A resumed session (`codex resume <id>`) follows the rollout
 * whose name ends in that id, from its size at the start.
 *
 * Lines (`{ type, payload }`):
 * - `session_meta` → `agent_session` with the session id (for resume).
 * - `event_msg` `item_completed` with a `UserMessage` / `AgentMessage`
 *   item (0.16x), or `user_message` / `agent_message` (older CLIs) → `message`.
 * - `response_item` `function_call` / `custom_tool_call` / `local_shell_call`
 *   → `tool_call`; `function_call_output` / `custom_tool_call_output` → `tool_result`.
 * - `event_msg` `token_count` (its `last_token_usage`) → `usage`.
 */
import { closeSync, openSync, readdirSync, readSync, realpathSync, statSync } from "node:fs"
import { join } from "node:path"
import type { SessionEvent } from "../../../domain/session-event.js"
import type { TranscriptLocation, TranscriptSource } from "./transcript-tail.js"

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const text = (value: unknown): string | null => (typeof value === "string" ? value : null)

const count = (value: unknown): number => (typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0)

const pad = (n: number): string => String(n).padStart(2, "0")

/** The day directories a rollout started around `at` can be in. */
export const dayDirectories = (sessionsRoot: string, at: number): ReadonlyArray<string> => {
  const dirs = new Set<string>()
  for (const time of [at - 86_400_000, at, Date.now()]) {
    const date = new Date(time)
    dirs.add(join(sessionsRoot, String(date.getUTCFullYear()), pad(date.getUTCMonth() + 1), pad(date.getUTCDate())))
    dirs.add(join(sessionsRoot, String(date.getFullYear()), pad(date.getMonth() + 1), pad(date.getDate())))
  }
  return [...dirs]
}

const rolloutsIn = (dir: string): ReadonlyArray<string> => {
  try {
    return readdirSync(dir).filter((name) => name.startsWith("rollout-") && name.endsWith(".jsonl")).map((name) => join(dir, name))
  } catch {
    return []
  }
}

/** The rollouts that exist now in the day directories around `at`. */
export const snapshotRollouts = (sessionsRoot: string, at: number): ReadonlySet<string> =>
  new Set(dayDirectories(sessionsRoot, at).flatMap(rolloutsIn))

/** The rollout of session `id` anywhere under `sessionsRoot` (year/month/day), or null. */
export const findRollout = (sessionsRoot: string, id: string): string | null => {
  const list = (dir: string) => {
    try {
      return readdirSync(dir).sort().reverse()
    } catch {
      return []
    }
  }
  for (const year of list(sessionsRoot)) {
    for (const month of list(join(sessionsRoot, year))) {
      for (const day of list(join(sessionsRoot, year, month))) {
        const found = list(join(sessionsRoot, year, month, day)).find((name) => name.endsWith(`${id}.jsonl`))
        if (found !== undefined) return join(sessionsRoot, year, month, day, found)
      }
    }
  }
  return null
}

const firstLine = (path: string): unknown => {
  let fd: number | null = null
  try {
    fd = openSync(path, "r")
    const buffer = Buffer.alloc(64 * 1024)
    const read = readSync(fd, buffer, 0, buffer.length, 0)
    const end = buffer.subarray(0, read).indexOf(0x0a)
    return end < 0 ? undefined : JSON.parse(buffer.subarray(0, end).toString("utf8")) as unknown
  } catch {
    return undefined
  } finally {
    if (fd !== null) closeSync(fd)
  }
}

const canonical = (path: string): string => {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

export interface CodexTranscriptOptions {
  readonly sessionsRoot: string
  readonly cwd: string
  readonly startedAt: number
  /** `snapshotRollouts` before the CLI started. */
  readonly before: ReadonlySet<string>
  /** The session resumed, with its rollout's size at the start (null for a new session). */
  readonly resumed: { readonly id: string; readonly path: string | null; readonly size: number } | null
}

const messageText = (content: unknown): string | null => {
  if (!Array.isArray(content)) return null
  const parts = content.flatMap((part: unknown) => (isRecord(part) && typeof part["text"] === "string" ? [part["text"]] : []))
  return parts.length === 0 ? null : parts.join("")
}

export const codexTranscript = (options: CodexTranscriptOptions): TranscriptSource => {
  const cwd = canonical(options.cwd)
  const rejected = new Set<string>()

  const locate = (): TranscriptLocation | null => {
    if (options.resumed !== null) {
      const path = options.resumed.path ?? findRollout(options.sessionsRoot, options.resumed.id)
      return path === null ? null : { path, offset: options.resumed.path === null ? 0 : options.resumed.size }
    }
    for (const path of dayDirectories(options.sessionsRoot, options.startedAt).flatMap(rolloutsIn)) {
      if (options.before.has(path) || rejected.has(path)) continue
      const meta = firstLine(path)
      if (meta === undefined) continue // Not written yet: looked at again next time.
      const payload = isRecord(meta) ? meta["payload"] : undefined
      if (isRecord(meta) && meta["type"] === "session_meta" && isRecord(payload) && typeof payload["cwd"] === "string" &&
        canonical(payload["cwd"]) === cwd) {
        return { path, offset: 0 }
      }
      rejected.add(path)
    }
    return null
  }

  const toEvents = (line: unknown): ReadonlyArray<SessionEvent> => {
    if (!isRecord(line) || !isRecord(line["payload"])) return []
    const payload = line["payload"]
    const id = text(payload["id"]) ?? text(line["timestamp"]) ?? "line"
    switch (line["type"]) {
      case "session_meta": {
        const sessionId = text(payload["id"]) ?? text(payload["session_id"])
        return sessionId === null ? [] : [{ type: "agent_session", agentSessionId: sessionId }]
      }
      case "event_msg": {
        switch (payload["type"]) {
          case "item_completed": {
            const item = payload["item"]
            if (!isRecord(item)) return []
            const role = item["type"] === "UserMessage" ? "user" : item["type"] === "AgentMessage" ? "assistant" : null
            const body = messageText(item["content"])
            return role === null || body === null
              ? []
              : [{ type: "message", messageId: text(item["id"]) ?? id, role, text: body }]
          }
          case "user_message":
          case "agent_message": {
            const body = text(payload["message"])
            const role = payload["type"] === "user_message" ? "user" : "assistant"
            return body === null ? [] : [{ type: "message", messageId: `${role}:${text(line["timestamp"]) ?? id}`, role, text: body }]
          }
          case "token_count": {
            const info = payload["info"]
            const usage = isRecord(info) ? info["last_token_usage"] : undefined
            if (!isRecord(usage)) return []
            return [{
              type: "usage",
              inputTokens: count(usage["input_tokens"]),
              outputTokens: count(usage["output_tokens"]),
              cacheReadTokens: count(usage["cached_input_tokens"]),
              cacheWriteTokens: typeof usage["cache_write_input_tokens"] === "number" ? count(usage["cache_write_input_tokens"]) : null,
              costUsd: null
            }]
          }
          default:
            return []
        }
      }
      case "response_item": {
        const callId = text(payload["call_id"]) ?? id
        switch (payload["type"]) {
          case "function_call": {
            const args = text(payload["arguments"])
            let input: unknown = args
            try {
              input = args === null ? null : JSON.parse(args) as unknown
            } catch {
              // Not JSON: kept as the raw string.
            }
            return [{ type: "tool_call", callId, name: text(payload["name"]) ?? "unknown", input }]
          }
          case "custom_tool_call":
            return [{ type: "tool_call", callId, name: text(payload["name"]) ?? "unknown", input: payload["input"] ?? null }]
          case "local_shell_call":
            return [{ type: "tool_call", callId, name: "shell", input: payload["action"] ?? null }]
          case "function_call_output":
          case "custom_tool_call_output": {
            const output = payload["output"]
            const isError = isRecord(output) && output["success"] === false
            return [{ type: "tool_result", callId, output: isRecord(output) && "content" in output ? output["content"] : output ?? null, isError }]
          }
          default:
            return []
        }
      }
      default:
        return []
    }
  }

  return { locate, toEvents }
}

/** The size of a file now, or 0 when it does not exist. */
export const sizeNow = (path: string | null): number => {
  if (path === null) return 0
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}
