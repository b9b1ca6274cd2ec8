/** The sessions list: live status (refreshed every 3 s), host, harness, last activity, filters. */
import { get, query } from "../api.js"
import { useLoad } from "../hooks.js"
import { navigate, useLocation } from "../router.js"
import { type HostInfo, SESSION_STATUSES, type Session } from "../types.js"
import { Empty, ErrorBox, Link, StatusPill, timeAgo } from "../ui.js"

export const Sessions = ({ canWrite }: { readonly canWrite: boolean }) => {
  const { search } = useLocation()
  const filters = {
    status: search.get("status") ?? "",
    host: search.get("host") ?? "",
    harness: search.get("harness") ?? "",
    archived: search.get("archived") ?? ""
  }
  const key = query(filters)
  const sessions = useLoad(() => get<{ sessions: ReadonlyArray<Session> }>(`/v1/sessions${query({ ...filters, limit: "100" })}`), key, 3000)
  const hosts = useLoad(() => get<{ hosts: ReadonlyArray<HostInfo> }>("/v1/hosts"), "hosts")
  const setFilter = (name: string, value: string) => navigate(`/sessions${query({ ...filters, [name]: value })}`, true)
  const harnesses = [...new Set((hosts.data?.hosts ?? []).flatMap((h) => h.harnesses.map((x) => x.name)).concat(["terminal"]))].sort()

  return (
    <main>
      <div class="page-head">
        <h1>Sessions</h1>
        {canWrite ? <Link href="/new" class="button">New session</Link> : null}
      </div>
      <div class="filters">
        <label class="field compact">
          <span>Status</span>
          <select value={filters.status} onChange={(e) => setFilter("status", e.currentTarget.value)}>
            <option value="">any</option>
            {SESSION_STATUSES.map((s) => <option key={s} value={s}>{s.replace("_", " ")}</option>)}
          </select>
        </label>
        <label class="field compact">
          <span>Host</span>
          <select value={filters.host} onChange={(e) => setFilter("host", e.currentTarget.value)}>
            <option value="">any</option>
            {(hosts.data?.hosts ?? []).map((h) => <option key={h.id} value={h.name}>{h.name}</option>)}
          </select>
        </label>
        <label class="field compact">
          <span>Harness</span>
          <select value={filters.harness} onChange={(e) => setFilter("harness", e.currentTarget.value)}>
            <option value="">any</option>
            {harnesses.map((h) => <option key={h} value={h}>{h}</option>)}
          </select>
        </label>
        <label class="check">
          <input type="checkbox" checked={filters.archived === "true"} onChange={(e) => setFilter("archived", e.currentTarget.checked ? "true" : "")} />
          <span>Archived</span>
        </label>
      </div>
      <ErrorBox error={sessions.error} />
      {sessions.data !== null && sessions.data.sessions.length === 0 ? <Empty>No sessions match.</Empty> : null}
      <ul class="list" data-testid="sessions">
        {(sessions.data?.sessions ?? []).map((s) => (
          <li key={s.id}>
            <Link href={`/sessions/${s.id}`} class="row-link">
              <div class="row-main">
                <strong class="ellipsis">{s.title ?? (s.args.length > 0 ? s.args.join(" ") : s.harness)}</strong>
                <StatusPill status={s.status} />
              </div>
              <div class="row-meta">
                <span>{s.harness}</span>
                <span>
                  {s.hostName}
                  {s.hostOnline ? "" : " (offline)"}
                </span>
                <span>{timeAgo(s.updatedAt)}</span>
                {s.pendingApprovals.length > 0 ? <span class="pill pill-warn">{s.pendingApprovals.length} approval(s)</span> : null}
              </div>
            </Link>
          </li>
        ))}
      </ul>
    </main>
  )
}
