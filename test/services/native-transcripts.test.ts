/**
 * The pieces of the native harnesses that need no CLI: the harness's own
 * argument (`--tether-base-url`) taken out of the CLI's args, Claude Code's
 * and Codex's transcript lines mapped to session events, and the tailer
 * (whole lines only, starting offset, a file that appears late, drain).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { HarnessError } from "../../src/services/harness/Harness.js"
import { claudeTranscript, projectSlug } from "../../src/services/harness/native/claude-transcript.js"
import { codexTranscript } from "../../src/services/harness/native/codex-transcript.js"
import { splitTetherArgs } from "../../src/services/harness/native/native-harness.js"
import { tailTranscript } from "../../src/services/harness/native/transcript-tail.js"
import { eventually, makeCollector } from "../runner/support/events.js"

describe("--tether-base-url", () => {
  it("is taken out in both forms; everything else passes through in order", () => {
    const split = splitTetherArgs("x", ["--model", "m", "--tether-base-url", "http://h:1/", "-p", "--", "--tether-base-url=literal"])
    assert.notInstanceOf(split, HarnessError)
    if (split instanceof HarnessError) return
    assert.strictEqual(split.baseUrl, "http://h:1")
    assert.deepStrictEqual(split.cliArgs, ["--model", "m", "-p", "--", "--tether-base-url=literal"])
    const eq = splitTetherArgs("x", ["--tether-base-url=https://a.example/v1"])
    assert.strictEqual(eq instanceof HarnessError ? null : eq.baseUrl, "https://a.example/v1")
  })

  it("fails on a missing, non-http or repeated value", () => {
    for (const args of [["--tether-base-url"], ["--tether-base-url", "ftp://x"], ["--tether-base-url=http://a", "--tether-base-url=http://b"]]) {
      const split = splitTetherArgs("x", args)
      assert.instanceOf(split, HarnessError, JSON.stringify(args))
    }
  })
})

describe("Claude Code transcript lines", () => {
  it("maps user, assistant, tool and usage lines; skips meta and sidechain lines; usage once per message", () => {
    const source = claudeTranscript({ configDir: "/nowhere", cwd: "/w", sessionId: "s1", before: new Map() })
    const lines = [
      { type: "user", sessionId: "s1", uuid: "u1", message: { role: "user", content: "hello" } },
      { type: "user", sessionId: "s1", uuid: "u0", isMeta: true, message: { role: "user", content: "caveat" } },
      {
        type: "assistant",
        uuid: "a1",
        message: {
          id: "msg_1",
          content: [{ type: "text", text: "Reading." }, { type: "tool_use", id: "t1", name: "Read", input: { file_path: "/w/x" } }],
          stop_reason: "tool_use",
          usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 2, cache_creation_input_tokens: 1 }
        }
      },
      { type: "assistant", uuid: "a1b", message: { id: "msg_1", content: [], stop_reason: "tool_use", usage: { input_tokens: 10, output_tokens: 5 } } },
      { type: "user", uuid: "u2", message: { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "data" }] }] } },
      { type: "assistant", uuid: "a2", isSidechain: true, message: { id: "msg_2", content: [{ type: "text", text: "sub-agent" }] } },
      { type: "attachment", uuid: "x" }
    ]
    const events = lines.flatMap((line) => source.toEvents(line))
    assert.deepStrictEqual(events.map((e) => e.type), ["agent_session", "message", "message", "tool_call", "usage", "tool_result"])
    assert.deepInclude(events, { type: "agent_session", agentSessionId: "s1" })
    assert.deepInclude(events, { type: "message", messageId: "u1", role: "user", text: "hello" })
    assert.deepInclude(events, { type: "tool_call", callId: "t1", name: "Read", input: { file_path: "/w/x" } })
    assert.deepInclude(events, { type: "tool_result", callId: "t1", output: "data", isError: false })
    assert.deepInclude(events, { type: "usage", inputTokens: 10, outputTokens: 5, cacheReadTokens: 2, cacheWriteTokens: 1, costUsd: null })
    assert.strictEqual(projectSlug("/tmp/a.b/c_d"), "-tmp-a-b-c-d")
  })
})

describe("Codex rollout lines", () => {
  it("maps session_meta, messages, function calls and their outputs, and token counts", () => {
    const source = codexTranscript({ sessionsRoot: "/nowhere", cwd: "/w", startedAt: Date.now(), before: new Set(), resumed: null })
    const lines = [
      { type: "session_meta", payload: { id: "th1", cwd: "/w" } },
      { type: "response_item", payload: { type: "message", role: "user", content: [{ type: "input_text", text: "<environment_context>" }] } },
      { type: "event_msg", payload: { type: "item_completed", item: { type: "UserMessage", id: "i1", content: [{ type: "text", text: "hi" }] } } },
      { type: "response_item", payload: { type: "function_call", name: "exec_command", arguments: "{\"cmd\":\"ls\"}", call_id: "c1" } },
      { type: "response_item", payload: { type: "function_call_output", call_id: "c1", output: "a.txt" } },
      { type: "event_msg", payload: { type: "item_completed", item: { type: "AgentMessage", id: "m1", content: [{ type: "Text", text: "done" }] } } },
      { type: "event_msg", payload: { type: "token_count", info: { last_token_usage: { input_tokens: 7, cached_input_tokens: 3, output_tokens: 2 } } } },
      { type: "event_msg", payload: { type: "token_count", info: null } }
    ]
    const events = lines.flatMap((line) => source.toEvents(line))
    assert.deepStrictEqual(events, [
      { type: "agent_session", agentSessionId: "th1" },
      { type: "message", messageId: "i1", role: "user", text: "hi" },
      { type: "tool_call", callId: "c1", name: "exec_command", input: { cmd: "ls" } },
      { type: "tool_result", callId: "c1", output: "a.txt", isError: false },
      { type: "message", messageId: "m1", role: "assistant", text: "done" },
      { type: "usage", inputTokens: 7, outputTokens: 2, cacheReadTokens: 3, cacheWriteTokens: null, costUsd: null }
    ])
  })
})

describe("the transcript tailer", () => {
  it.scopedLive("waits for the file and for whole lines, starts at the offset, and drains the rest", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "tail-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const path = join(dir, "t.jsonl")
      const old = `${JSON.stringify({ text: "before the session" })}\n`
      const c = makeCollector()
      const toEvents = (line: unknown): ReadonlyArray<SessionEvent> =>
        typeof line === "object" && line !== null && "text" in line && typeof line.text === "string"
          ? [{ type: "message", messageId: line.text, role: "assistant", text: line.text }]
          : []
      let exists = false
      const { drain } = yield* tailTranscript(
        { locate: () => (exists ? { path, offset: Buffer.byteLength(old) } : null), toEvents },
        c.emit,
        { interval: "20 millis" }
      )
      writeFileSync(path, old)
      exists = true
      appendFileSync(path, `${JSON.stringify({ text: "one" })}\nnot json\n{"text":"tw`)
      yield* eventually("the first line", () => (c.texts().includes("one") ? true : undefined))
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(c.texts(), ["one"], "a line still being written waits for its newline")
      appendFileSync(path, `o"}\n${JSON.stringify({ text: "three" })}\n`)
      yield* drain
      assert.deepStrictEqual(c.texts(), ["one", "two", "three"])
    }))
})
