/** The audit log: connects, lockouts, token and password changes, newest first, with paging. */
import { useEffect, useState } from "preact/hooks"
import { get, query } from "../api.js"
import type { AuditEntry } from "../types.js"
import { ErrorBox, messageOf, StatusPill } from "../ui.js"

const ACTIONS = ["connect.success", "connect.failure", "connect.lockout", "token.created", "token.revoked", "password.changed"]

export const Audit = () => {
  const [action, setAction] = useState("")
  const [entries, setEntries] = useState<ReadonlyArray<AuditEntry>>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)

  const load = async (after: string | null, replace: boolean) => {
    try {
      const page = await get<{ entries: ReadonlyArray<AuditEntry>; nextCursor: string | null }>(
        `/api/audit${query({ action, limit: "50", cursor: after ?? undefined })}`
      )
      setEntries((previous) => (replace ? page.entries : [...previous, ...page.entries]))
      setCursor(page.nextCursor)
      setError(null)
    } catch (e) {
      setError(messageOf(e))
    }
  }
  useEffect(() => void load(null, true), [action])

  return (
    <main>
      <h1>Audit log</h1>
      <label class="field compact">
        <span>Action</span>
        <select value={action} onChange={(e) => setAction(e.currentTarget.value)}>
          <option value="">all</option>
          {ACTIONS.map((a) => <option key={a} value={a}>{a}</option>)}
        </select>
      </label>
      <ErrorBox error={error} />
      <ul class="list" data-testid="audit">
        {entries.map((e) => (
          <li key={e.id} class="card">
            <div class="row-main">
              <strong>{e.action}</strong>
              <StatusPill status={e.outcome} />
            </div>
            <div class="row-meta">
              <span>{new Date(e.at).toLocaleString()}</span>
              <span class="ellipsis">{e.actor}</span>
              {e.peer !== null ? <span>{e.peer}</span> : null}
            </div>
            {e.detail !== null ? <p class="detail">{e.detail}</p> : null}
          </li>
        ))}
      </ul>
      {cursor !== null ? <button type="button" class="button secondary" onClick={() => void load(cursor, false)}>Load older</button> : null}
    </main>
  )
}
