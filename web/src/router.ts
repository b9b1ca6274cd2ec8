/**
 * A minimal client-side router over the History API. Links call `navigate`;
 * the back button works; the server answers every client route with
 * index.html, so reloads and shared links land on the right page.
 */
import { useEffect, useState } from "preact/hooks"

const listeners = new Set<() => void>()

export const navigate = (path: string, replace = false): void => {
  if (path === location.pathname + location.search) return
  if (replace) history.replaceState(null, "", path)
  else history.pushState(null, "", path)
  for (const listener of listeners) listener()
  window.scrollTo(0, 0)
}

window.addEventListener("popstate", () => {
  for (const listener of listeners) listener()
})

export interface Location {
  readonly path: string
  readonly search: URLSearchParams
}

const current = (): Location => ({ path: location.pathname, search: new URLSearchParams(location.search) })

export const useLocation = (): Location => {
  const [value, setValue] = useState(current)
  useEffect(() => {
    const listener = () => setValue(current())
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
    }
  }, [])
  return value
}

/** Click handler for in-app links: plain left clicks navigate without a reload. */
export const linkTo = (path: string) => (event: MouseEvent): void => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
  event.preventDefault()
  navigate(path)
}
