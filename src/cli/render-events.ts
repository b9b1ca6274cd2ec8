/** Session events as a person reads them in a terminal (`--json` prints NDJSON instead). */
import type { SessionEventRecord } from "../domain/session-event.js"

const compact = (value: unknown, max = 200): string => {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value)
  return text.length > max ? `${text.slice(0, max)}…` : text
}

/**
 * Renders records one by one; streamed deltas are printed as they come and
 * the final message that repeats them is not printed again.
 */
export const makeRenderer = (write: (text: string) => void) => {
  const streamed = new Set<string>()
  let midLine = false
  const line = (text: string) => {
    if (midLine) write("\n")
    midLine = false
    write(`${text}\n`)
  }
  return (record: SessionEventRecord): void => {
    const event = record.event
    switch (event.type) {
      case "message_delta":
        streamed.add(event.messageId)
        write(event.text)
        midLine = !event.text.endsWith("\n")
        return
      case "message":
        if (streamed.has(event.messageId)) {
          if (midLine) write("\n")
          midLine = false
          return
        }
        return line(event.role === "user" ? `> ${event.text}` : event.role === "system" ? `# ${event.text}` : event.text)
      case "status":
        return line(
          `── ${event.status}${event.reason === null ? "" : ` (${event.reason})`}${event.exitCode === null ? "" : ` exit ${event.exitCode}`}`
        )
      case "tool_call":
        return line(`⚙ ${event.name} ${compact(event.input)}`)
      case "tool_result":
        return line(`  ${event.isError ? "✗" : "↳"} ${compact(event.output)}`)
      case "approval_request":
        return line(
          `? approval needed [${event.requestId}]: ${event.tool} ${compact(event.input)}` +
            (event.description === null ? "" : ` — ${event.description}`)
        )
      case "approval_resolved":
        return line(`✓ approval ${event.requestId}: ${event.decision}${event.note === null ? "" : ` (${event.note})`}`)
      case "usage":
        return line(`· usage: ${event.inputTokens} in, ${event.outputTokens} out${event.costUsd === null ? "" : `, $${event.costUsd.toFixed(4)}`}`)
      case "error":
        return line(`! ${event.message}${event.code === null ? "" : ` (${event.code})`}`)
    }
  }
}
