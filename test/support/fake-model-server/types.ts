/**
 * The fake model server's contract: what a test scripts (turns) and what the
 * server records (requests). Shared by every wire format; re-exported from
 * `index.ts`, which is the module tests import.
 */

export interface RecordedRequest {
  readonly method: string
  /** The URL's path without its query (`/v1/messages` for `/v1/messages?beta=true`). */
  readonly path: string
  /** Lower-case header names; repeated headers joined with `, `. */
  readonly headers: Record<string, string>
  /** The JSON body, the raw text when it is not JSON, or null when empty. */
  readonly body: unknown
  /** The query string without `?` ("" when none). Optional addition to the fixed contract. */
  readonly query?: string
}

/** Token counts a turn reports; defaults are derived from the request and the text. */
export interface ScriptedUsage {
  readonly inputTokens: number
  readonly outputTokens: number
}

export type ScriptedTurn =
  | {
    readonly kind: "text"
    readonly text: string
    /** How many deltas the text is split into (default: up to 3). */
    readonly chunks?: number
    /** Pause before each delta, for slow streams (default 0). */
    readonly delayMs?: number
    readonly usage?: ScriptedUsage
  }
  | {
    readonly kind: "tool_call"
    readonly name: string
    readonly arguments: Record<string, unknown>
    /** The call's id (default: `toolu_fake_N` for Anthropic, `call_fake_N` for OpenAI). */
    readonly id?: string
    /** Text the model says before asking for the tool. */
    readonly text?: string
    readonly usage?: ScriptedUsage
  }
  | {
    readonly kind: "error"
    readonly status: number
    readonly message: string
    /**
     * Whether the SDKs may retry it: by default errors carry
     * `x-should-retry: false`, which the Anthropic and OpenAI SDKs honour, so
     * a scripted error is seen once instead of being retried into the script.
     */
    readonly retryable?: boolean
    /** Start a 200 stream first and send the error as the format's in-stream error event. */
    readonly midStream?: boolean
  }
  | { readonly kind: "hang" } // sends headers then never finishes (for cancellation tests)

export interface FakeModelServer {
  /** `http://127.0.0.1:PORT` (no `/v1`). */
  readonly url: string
  readonly requests: ReadonlyArray<RecordedRequest>
  /** Appends turns to the FIFO shared by all formats. */
  script(...turns: ReadonlyArray<ScriptedTurn>): void
  /** Requests whose client disconnected before the response ended. */
  readonly aborted: number
  /** Scripted turns not yet used (optional addition). */
  readonly pending: number
  /** Drops every scripted turn not yet used (optional addition; for tests that must not inherit leftovers). */
  clearScript(): void
  /** Stops listening and drops every open connection (hanging ones included). */
  close(): Promise<void>
}

export interface FakeModel {
  readonly id: string
  readonly context_window?: number
}

export interface FakeModelServerOptions {
  readonly models?: ReadonlyArray<FakeModel>
}
