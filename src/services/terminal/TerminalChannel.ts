/**
 * What a PTY-running harness is given to relay its terminal: the runner's
 * end of the terminal link (see `src/runner/terminal/`). Output goes in with
 * `write`; viewers' keystrokes and the controller's size come back through
 * the listeners. Imperative on purpose: it sits on the PTY's hot path.
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

export interface TerminalSize {
  readonly cols: number
  readonly rows: number
}

export interface TerminalChannel {
  /**
   * Hands output bytes over (the channel keeps them until the server stored
   * them). Returns false when the retransmit buffer is full: stop reading
   * the PTY until `onWritable` fires.
   */
  readonly write: (data: Uint8Array) => boolean
  readonly onWritable: (listener: () => void) => void
  readonly onInput: (listener: (data: Uint8Array) => void) => void
  readonly onResize: (listener: (size: TerminalSize) => void) => void
  /** The program ended; sent after every output byte. */
  readonly exit: (code: number | null, signal: string | null) => void
}

/** Opens the relay for one session's terminal; closing the scope ends the link. */
export interface TerminalChannelFactory {
  readonly open: (sessionId: string, initial: TerminalSize) => Effect.Effect<TerminalChannel, never, Scope.Scope>
}
