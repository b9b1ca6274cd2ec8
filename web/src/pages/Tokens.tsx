/** Access tokens: list, create (the secret is shown once, with a copy button), revoke. */
import { useState } from "preact/hooks"
import { del, get, post } from "../api.js"
import { useLoad } from "../hooks.js"
import type { TokenInfo } from "../types.js"
import { CopyOnce } from "../copy-once.js"
import { ErrorBox, messageOf, StatusPill, timeAgo } from "../ui.js"

export const Tokens = () => {
  const tokens = useLoad(() => get<{ tokens: ReadonlyArray<TokenInfo> }>("/api/cli/tokens"), "tokens")
  const [name, setName] = useState("")
  const [scope, setScope] = useState("read")
  const [days, setDays] = useState("30")
  const [created, setCreated] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const create = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const result = await post<{ token: string }>("/api/cli/tokens", {
        name: name.trim(),
        scope,
        ...(days === "" ? {} : { expiresInDays: Number(days) })
      })
      setCreated(result.token)
      setName("")
      tokens.reload()
    } catch (e) {
      setError(messageOf(e))
    } finally {
      setBusy(false)
    }
  }

  const revoke = async (token: TokenInfo) => {
    if (!confirm(`Revoke ${token.name} (${token.prefix}…)? Anything using it stops working.`)) return
    setError(null)
    try {
      await del(`/api/cli/tokens/${encodeURIComponent(token.id)}`)
      tokens.reload()
    } catch (e) {
      setError(messageOf(e))
    }
  }

  return (
    <main>
      <h1>Access tokens</h1>
      <form class="card" onSubmit={create}>
        <h2>Create a token</h2>
        <label class="field">
          <span>Name</span>
          <input name="name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <div class="filters">
          <label class="field compact">
            <span>Scope</span>
            <select name="scope" value={scope} onChange={(e) => setScope(e.currentTarget.value)}>
              <option value="read">read</option>
              <option value="write">write</option>
              <option value="admin">admin</option>
            </select>
          </label>
          <label class="field compact">
            <span>Expires in (days)</span>
            <input name="days" type="number" min={1} max={3650} inputMode="numeric" value={days} onInput={(e) => setDays(e.currentTarget.value)} />
          </label>
        </div>
        <button class="button" type="submit" disabled={busy || name.trim() === ""}>Create</button>
      </form>
      <ErrorBox error={error ?? tokens.error} />
      <ul class="list" data-testid="tokens">
        {(tokens.data?.tokens ?? []).map((t) => (
          <li key={t.id} class="card">
            <div class="row-main">
              <strong class="ellipsis">{t.name}</strong>
              <StatusPill status={t.status} />
            </div>
            <div class="row-meta">
              <code>{t.prefix}…</code>
              <span>{t.scope}</span>
              <span>used {timeAgo(t.lastUsedAt)}</span>
              <span>{t.expiresAt === null ? "never expires" : `expires ${new Date(t.expiresAt).toLocaleString()}`}</span>
            </div>
            {t.status === "active"
              ? <button type="button" class="button small danger" onClick={() => void revoke(t)}>Revoke</button>
              : null}
          </li>
        ))}
      </ul>
      {created !== null ? <CopyOnce title="Your new token" secret={created} onClose={() => setCreated(null)} /> : null}
    </main>
  )
}
