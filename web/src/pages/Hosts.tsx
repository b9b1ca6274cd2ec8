/** Hosts: which machines run `tether host`, whether they are online, and their harnesses. */
import { get } from "../api.js"
import { useLoad } from "../hooks.js"
import type { HostInfo } from "../types.js"
import { Empty, ErrorBox, StatusPill, timeAgo } from "../ui.js"

export const Hosts = () => {
  const hosts = useLoad(() => get<{ hosts: ReadonlyArray<HostInfo> }>("/v1/hosts"), "hosts", 5000)
  return (
    <main>
      <h1>Hosts</h1>
      <ErrorBox error={hosts.error} />
      {hosts.data !== null && hosts.data.hosts.length === 0 ? <Empty>No host has connected yet. Run <code>tether host</code> on a machine.</Empty> : null}
      <ul class="list" data-testid="hosts">
        {(hosts.data?.hosts ?? []).map((h) => (
          <li key={h.id} class="card">
            <div class="row-main">
              <strong>{h.name}</strong>
              <StatusPill status={h.online ? "online" : "offline"} />
            </div>
            <div class="row-meta">
              <span>last seen {timeAgo(h.lastSeenAt)}</span>
              {h.version !== null ? <span>v{h.version}</span> : null}
            </div>
            <ul class="chips">
              {h.harnesses.map((x) => (
                <li key={x.name} class={`chip${x.ready ? "" : " chip-off"}`} title={x.detail ?? ""}>{x.name}{x.ready ? "" : " (not ready)"}</li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </main>
  )
}
