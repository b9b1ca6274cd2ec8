/**
 * The model gateway's pages (providers, models, keys) are shown only when the
 * server has these routes. This generic list renders the models catalog
 * (each item's fields as label/value pairs); providers and keys have pages
 * of their own.
 */
import { request } from "../api.js"
import { useLoad } from "../hooks.js"
import { Empty, ErrorBox } from "../ui.js"

export const GATEWAY_PAGES = [
  { path: "/providers", api: "/v1/providers", title: "Providers", admin: true },
  { path: "/models", api: "/v1/models", title: "Models", admin: false },
  { path: "/keys", api: "/v1/keys", title: "Keys", admin: true }
] as const

const itemsOf = (body: unknown): ReadonlyArray<unknown> => {
  if (Array.isArray(body)) return body
  if (typeof body === "object" && body !== null) {
    for (const value of Object.values(body)) if (Array.isArray(value)) return value
  }
  return []
}

const show = (value: unknown): string =>
  value === null || value === undefined ? "—" : typeof value === "object" ? JSON.stringify(value) : String(value)

export const Gateway = ({ api, title }: { readonly api: string; readonly title: string }) => {
  // A 401 here means this route does not take the web session (not that it ended): say so, stay signed in.
  const list = useLoad(() => request<unknown>("GET", api, undefined, { quiet401: true }), api, 10_000)
  const items = itemsOf(list.data)
  return (
    <main>
      <h1>{title}</h1>
      <ErrorBox error={list.error} />
      {list.data !== null && items.length === 0 ? <Empty>Nothing here yet.</Empty> : null}
      <ul class="list">
        {items.map((item, i) => (
          <li key={i} class="card">
            <dl class="fields">
              {Object.entries(typeof item === "object" && item !== null ? item : { value: item }).map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{show(v)}</dd>
                </div>
              ))}
            </dl>
          </li>
        ))}
      </ul>
    </main>
  )
}
