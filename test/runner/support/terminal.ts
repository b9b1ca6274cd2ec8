/** An in-memory terminal channel factory: what a PTY harness writes is collected, input/resize can be injected. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { RunnerTerminals } from "../../../src/runner/terminal/RunnerTerminals.js"
import type { TerminalChannel, TerminalChannelFactory, TerminalSize } from "../../../src/services/terminal/TerminalChannel.js"

export interface MemoryTerminal {
  readonly sessionId: string
  readonly output: Array<Uint8Array>
  exit: { readonly code: number | null; readonly signal: string | null } | null
  readonly text: () => string
  readonly type: (text: string) => void
  readonly resize: (size: TerminalSize) => void
}

export const memoryTerminals = () => {
  const terminals: Array<MemoryTerminal> = []
  const factory: TerminalChannelFactory = {
    open: (sessionId) =>
      Effect.sync(() => {
        const inputs: Array<(data: Uint8Array) => void> = []
        const resizes: Array<(size: TerminalSize) => void> = []
        const terminal: MemoryTerminal = {
          sessionId,
          output: [],
          exit: null,
          text: () => Buffer.concat(terminal.output).toString("utf8"),
          type: (text) => inputs.forEach((listener) => listener(new TextEncoder().encode(text))),
          resize: (size) => resizes.forEach((listener) => listener(size))
        }
        terminals.push(terminal)
        const channel: TerminalChannel = {
          write: (data) => {
            terminal.output.push(Uint8Array.from(data))
            return true
          },
          onWritable: () => {},
          onInput: (listener) => inputs.push(listener),
          onResize: (listener) => resizes.push(listener),
          exit: (code, signal) => {
            terminal.exit = { code, signal }
          }
        }
        return channel
      })
  }
  return { terminals, factory, layer: Layer.succeed(RunnerTerminals, RunnerTerminals.make(factory)) }
}
