/**
 * The web UI's pure parts: the timeline fold (deltas, tool results,
 * approvals, usage), command-line splitting for terminal sessions, and the
 * connection indicator's wording.
 */
import { assert, describe, it } from "vitest"
import { splitCommand } from "../../web/src/command-line.js"
import { connection, describeConnection } from "../../web/src/connection.js"
import type { EventRecord } from "../../web/src/session-stream.js"
import { buildTimeline } from "../../web/src/timeline.js"

let seq = 0
const record = (event: EventRecord["event"]): EventRecord => ({ sessionId: "ses_1", seq: ++seq, at: "2026-11-21T00:00:00Z", event })

describe("buildTimeline", () => {
  it("joins deltas into their message until the final message replaces them", () => {
    const streaming = buildTimeline([
      record({ type: "message_delta", messageId: "m1", text: "Hel" }),
      record({ type: "message_delta", messageId: "m1", text: "lo" })
    ])
    assert.deepStrictEqual(streaming.items.map((i) => i.kind === "message" ? [i.role, i.text, i.streaming] : []), [["assistant", "Hello", true]])
    const done = buildTimeline([
      record({ type: "message_delta", messageId: "m1", text: "Hel" }),
      record({ type: "message", messageId: "m1", role: "assistant", text: "Hello there" })
    ])
    assert.strictEqual(done.items.length, 1)
    const item = done.items[0]
    assert.deepStrictEqual(item?.kind === "message" ? [item.text, item.streaming] : [], ["Hello there", false])
  })

  it("pairs tool results with their calls and approvals with their decisions; sums usage; tracks status", () => {
    const timeline = buildTimeline([
      record({ type: "status", status: "running", reason: null, exitCode: null }),
      record({ type: "tool_call", callId: "c1", name: "Read", input: { path: "a.ts" } }),
      record({ type: "approval_request", requestId: "r1", tool: "Bash", input: { command: "ls" }, description: null }),
      record({ type: "tool_result", callId: "c1", output: "text", isError: false }),
      record({ type: "approval_resolved", requestId: "r1", decision: "deny", note: "no", by: "ana" }),
      record({ type: "usage", inputTokens: 10, outputTokens: 5, cacheReadTokens: null, cacheWriteTokens: null, costUsd: 0.01 }),
      record({ type: "usage", inputTokens: 1, outputTokens: 2, cacheReadTokens: null, cacheWriteTokens: null, costUsd: null }),
      record({ type: "status", status: "exited", reason: "exit_code", exitCode: 0 })
    ])
    assert.deepStrictEqual(timeline.items.map((i) => i.kind), ["status", "tool", "approval", "status"])
    const tool = timeline.items[1]
    assert.deepStrictEqual(tool?.kind === "tool" ? tool.result : null, { output: "text", isError: false })
    const approval = timeline.items[2]
    assert.deepStrictEqual(approval?.kind === "approval" ? approval.resolved : null, { decision: "deny", note: "no", by: "ana" })
    assert.deepStrictEqual(timeline.usage, { input: 11, output: 7, cost: 0.01 })
    assert.strictEqual(timeline.status, "exited")
  })
})

describe("splitCommand", () => {
  it("splits on whitespace and keeps quoted parts together", () => {
    assert.deepStrictEqual(splitCommand("bash -l"), ["bash", "-l"])
    assert.deepStrictEqual(splitCommand("  sh   -c 'echo hi; ls'  "), ["sh", "-c", "echo hi; ls"])
    assert.deepStrictEqual(splitCommand("printf \"%s\\n\" '' x"), ["printf", "%s\\n", "", "x"])
    assert.deepStrictEqual(splitCommand(""), [])
  })
})

describe("connection indicator", () => {
  it("shows the worst open channel, and an unreachable server above all", () => {
    assert.deepStrictEqual(describeConnection(connection.get()), { text: "online", tone: "ok" })
    connection.setLive("events", "live")
    assert.strictEqual(describeConnection(connection.get()).text, "events: connected")
    connection.setLive("terminal", "reconnecting")
    assert.deepStrictEqual(describeConnection(connection.get()), { text: "terminal: reconnecting…", tone: "warn" })
    connection.setApi("down")
    assert.deepStrictEqual(describeConnection(connection.get()), { text: "server unreachable", tone: "bad" })
    connection.setApi("ok")
    connection.setLive("terminal", "none")
    connection.setLive("events", "none")
    assert.strictEqual(describeConnection(connection.get()).text, "online")
  })
})
