/**
 * The connection state the header always shows: whether the API answers,
 * and the state of each live channel the page holds open (the session's
 * event stream, the terminal socket). A tiny observable store; components
 * subscribe with `useConnection`, channels report with `setLive`.
 */
import { useEffect, useState } from "preact/hooks"

export type ApiState = "ok" | "down"
export type LiveState = "none" | "connecting" | "live" | "reconnecting"

export interface ConnectionState {
  readonly api: ApiState
  /** Open channels by name ("events", "terminal"); closed ones are absent. */
  readonly live: Readonly<Record<string, Exclude<LiveState, "none">>>
}

const listeners = new Set<(state: ConnectionState) => void>()
let state: ConnectionState = { api: "ok", live: {} }

const publish = (next: ConnectionState): void => {
  state = next
  for (const listener of listeners) listener(state)
}

export const connection = {
  get: (): ConnectionState => state,
  setApi: (api: ApiState): void => {
    if (api !== state.api) publish({ ...state, api })
  },
  setLive: (channel: string, live: LiveState): void => {
    if ((state.live[channel] ?? "none") === live) return
    const { [channel]: _previous, ...others } = state.live
    publish({ ...state, live: live === "none" ? others : { ...others, [channel]: live } })
  },
  subscribe: (listener: (state: ConnectionState) => void): (() => void) => {
    listeners.add(listener)
    return () => listeners.delete(listener)
  }
}

export const useConnection = (): ConnectionState => {
  const [current, setCurrent] = useState(state)
  useEffect(() => connection.subscribe(setCurrent), [])
  return current
}

const RANK: Record<Exclude<LiveState, "none">, number> = { reconnecting: 0, connecting: 1, live: 2 }

/** One line for humans, about the worst channel: "online", "terminal: reconnecting…", "server unreachable". */
export const describeConnection = (c: ConnectionState): { readonly text: string; readonly tone: "ok" | "warn" | "bad" } => {
  if (c.api === "down") return { text: "server unreachable", tone: "bad" }
  const channels = Object.entries(c.live).sort(([, a], [, b]) => RANK[a] - RANK[b])
  const worst = channels[0]
  if (worst === undefined) return { text: "online", tone: "ok" }
  const [name, live] = worst
  switch (live) {
    case "connecting":
      return { text: `${name}: connecting…`, tone: "warn" }
    case "reconnecting":
      return { text: `${name}: reconnecting…`, tone: "warn" }
    case "live":
      return { text: channels.length > 1 ? "live" : `${name}: connected`, tone: "ok" }
  }
}
