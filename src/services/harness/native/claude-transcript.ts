/**
 * Claude Code's session transcript: where it is and what its lines mean.
 *
 * Location: `<CLAUDE_CONFIG_DIR or ~/.claude>/projects/<cwd with every
 * character outside [A-Za-z0-9] replaced by "-">/<session id>.jsonl`. With a
 * known session id that file is followed; otherwise (a `--resume` or
 * `--continue` without an id) the first file of the project directory that
 * is new or grew since the session started.
 *
 * Lines (JSON objects with `type`):
 * - `user` (not `isMeta`): string content → `message` (role user); text
 *   blocks → `message`; `tool_result` blocks → `tool_result`.
 * - `assistant`: text blocks → `message` (role assistant), `tool_use`
 *   blocks → `tool_call`; the message's `usage` once per message id, from
 *   the line that carries its `stop_reason`.
 * - the first `sessionId` seen → `agent_session` (for resume).
 * Everything else (attachments, snapshots, system lines) is ignored.
 */
import { readdirSync, realpathSync, statSync } from "node:fs"
import { join } from "node:path"
import type { SessionEvent } from "../../../domain/session-event.js"
import { toolOutput } from "../agents/common.js"
import type { TranscriptLocation, TranscriptSource } from "./transcript-tail.js"

/** The project directory name Claude Code uses for a working directory. */
export const projectSlug = (cwd: string): string => cwd.replace(/[^a-zA-Z0-9]/g, "-")

/** The sizes of the transcripts already in a project directory (taken before the CLI starts). */
export const snapshotDirectory = (dir: string): ReadonlyMap<string, number> => {
  const sizes = new Map<string, number>()
  try {
    for (const name of readdirSync(dir)) {
      if (!name.endsWith(".jsonl")) continue
      try {
        sizes.set(join(dir, name), statSync(join(dir, name)).size)
      } catch {
        // Removed while listing.
      }
    }
  } catch {
    // No directory yet: nothing existed.
  }
  return sizes
}

const sizeOf = (path: string): number | null => {
  try {
    return statSync(path).size
  } catch {
    return null
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const text = (value: unknown): string | null => (typeof value === "string" ? value : null)

const count = (value: unknown): number => (typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0)

export interface ClaudeTranscriptOptions {
  readonly configDir: string
  readonly cwd: string
  /** The session id when known (`--session-id`, or the id resumed). */
  readonly sessionId: string | null
  /** `snapshotDirectory` of the project directory before the CLI started. */
  readonly before: ReadonlyMap<string, number>
}

/** The project directory of `cwd` (its real path, as the CLI sees it) under `configDir`. */
export const claudeProjectDir = (configDir: string, cwd: string): string => {
  let real = cwd
  try {
    real = realpathSync(cwd)
  } catch {
    // A missing directory fails the start elsewhere.
  }
  return join(configDir, "projects", projectSlug(real))
}

export const claudeTranscript = (options: ClaudeTranscriptOptions): TranscriptSource => {
  const dir = claudeProjectDir(options.configDir, options.cwd)

  const locate = (): TranscriptLocation | null => {
    if (options.sessionId !== null) {
      const path = join(dir, `${options.sessionId}.jsonl`)
      return sizeOf(path) === null ? null : { path, offset: options.before.get(path) ?? 0 }
    }
    for (const [path, size] of snapshotDirectory(dir)) {
      const before = options.before.get(path)
      if (before === undefined || size > before) return { path, offset: before ?? 0 }
    }
    return null
  }

  let announced = false
  const usageSeen = new Set<string>()

  const toEvents = (line: unknown): ReadonlyArray<SessionEvent> => {
    if (!isRecord(line)) return []
    const events: Array<SessionEvent> = []
    const sessionId = text(line["sessionId"])
    if (!announced && sessionId !== null) {
      announced = true
      events.push({ type: "agent_session", agentSessionId: sessionId })
    }
    const message = line["message"]
    if (!isRecord(message) || line["isSidechain"] === true) return events
    const uuid = text(line["uuid"]) ?? "line"
    const content = message["content"]
    if (line["type"] === "user" && line["isMeta"] !== true) {
      if (typeof content === "string") {
        events.push({ type: "message", messageId: uuid, role: "user", text: content })
      } else if (Array.isArray(content)) {
        content.forEach((block: unknown, index) => {
          if (!isRecord(block)) return
          if (block["type"] === "text" && typeof block["text"] === "string") {
            events.push({ type: "message", messageId: `${uuid}:${index}`, role: "user", text: block["text"] })
          } else if (block["type"] === "tool_result") {
            events.push({
              type: "tool_result",
              callId: text(block["tool_use_id"]) ?? `${uuid}:${index}`,
              output: toolOutput(block["content"] ?? null),
              isError: block["is_error"] === true
            })
          }
        })
      }
    } else if (line["type"] === "assistant") {
      const messageId = text(message["id"]) ?? uuid
      if (Array.isArray(content)) {
        content.forEach((block: unknown, index) => {
          if (!isRecord(block)) return
          if (block["type"] === "text" && typeof block["text"] === "string" && block["text"].length > 0) {
            events.push({ type: "message", messageId: `${messageId}:${uuid}:${index}`, role: "assistant", text: block["text"] })
          } else if (block["type"] === "tool_use") {
            events.push({
              type: "tool_call",
              callId: text(block["id"]) ?? `${uuid}:${index}`,
              name: text(block["name"]) ?? "unknown",
              input: block["input"] ?? null
            })
          }
        })
      }
      const usage = message["usage"]
      if (isRecord(usage) && message["stop_reason"] != null && !usageSeen.has(messageId)) {
        usageSeen.add(messageId)
        events.push({
          type: "usage",
          inputTokens: count(usage["input_tokens"]),
          outputTokens: count(usage["output_tokens"]),
          cacheReadTokens: count(usage["cache_read_input_tokens"]),
          cacheWriteTokens: count(usage["cache_creation_input_tokens"]),
          costUsd: null
        })
      }
    }
    return events
  }

  return { locate, toEvents }
}
