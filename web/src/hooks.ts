/** Data loading with optional polling, for pages that show server state. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks"
import { messageOf } from "./ui.js"

export interface Loaded<A> {
  readonly data: A | null
  readonly error: string | null
  readonly loading: boolean
  readonly reload: () => void
}

/** Loads `load()` now, whenever `key` changes, and every `pollMs` while the page is visible. */
export const useLoad = <A>(load: () => Promise<A>, key: string, pollMs?: number): Loaded<A> => {
  const [data, setData] = useState<A | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [loading, setLoading] = useState(true)
  const loader = useRef(load)
  loader.current = load
  const generation = useRef(0)

  const reload = useCallback(() => {
    const mine = ++generation.current
    loader.current().then(
      (value) => {
        if (mine !== generation.current) return
        setData(value)
        setError(null)
        setLoading(false)
      },
      (e: unknown) => {
        if (mine !== generation.current) return
        setError(messageOf(e))
        setLoading(false)
      }
    )
  }, [])

  useEffect(() => {
    setLoading(true)
    reload()
    if (pollMs === undefined) return
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") reload()
    }, pollMs)
    return () => clearInterval(timer)
  }, [key, pollMs, reload])

  return { data, error, loading, reload }
}
