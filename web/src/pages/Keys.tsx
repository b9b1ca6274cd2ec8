/** Inference keys of the model gateway: list, create (secret shown once), revoke. Admin only. */
import { useState } from "preact/hooks"
import { del, get, post } from "../api.js"
import { CopyOnce } from "../copy-once.js"
import { useLoad } from "../hooks.js"
import { ErrorBox, messageOf, StatusPill, timeAgo } from "../ui.js"

interface KeyInfo {
  readonly id: string
  readonly name: string
  readonly prefix: string
  readonly models: ReadonlyArray<string> | null
  readonly createdAt: string
  readonly expiresAt: string | null
  readonly lastUsedAt: string | null
  readonly revokedAt: string | null
}

const statusOf = (key: KeyInfo): string =>
  key.revokedAt !== null ? "revoked" : key.expiresAt !== null && Date.parse(key.expiresAt) <= Date.now() ? "expired" : "active"

export const Keys = () => {
  const keys = useLoad(() => get<{ keys: ReadonlyArray<KeyInfo> }>("/v1/keys"), "keys")
  const [name, setName] = useState("")
  const [models, setModels] = useState("")
  const [days, setDays] = useState("")
  const [created, setCreated] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const create = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const globs = models.split(/[\s,]+/).filter((m) => m !== "")
      const result = await post<{ secret: string }>("/v1/keys", {
        name: name.trim(),
        ...(globs.length === 0 ? {} : { models: globs }),
        ...(days === "" ? {} : { expiresInDays: Number(days) })
      })
      setCreated(result.secret)
      setName("")
      setModels("")
      keys.reload()
    } catch (e) {
      setError(messageOf(e))
    } finally {
      setBusy(false)
    }
  }

  const revoke = async (key: KeyInfo) => {
    if (!confirm(`Revoke ${key.name} (${key.prefix}…)? Clients using it stop working.`)) return
    try {
      await del(`/v1/keys/${encodeURIComponent(key.id)}`)
      keys.reload()
    } catch (e) {
      setError(messageOf(e))
    }
  }

  return (
    <main>
      <h1>Inference keys</h1>
      <form class="card" onSubmit={create}>
        <h2>Create a key</h2>
        <label class="field">
          <span>Name</span>
          <input name="name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Models (globs, optional; empty: every model)</span>
          <input name="models" placeholder="openai/gpt-*, anthropic/*" value={models} onInput={(e) => setModels(e.currentTarget.value)} autocapitalize="off" spellcheck={false} />
        </label>
        <label class="field">
          <span>Expires in (days, optional)</span>
          <input name="days" type="number" min={1} max={3650} inputMode="numeric" value={days} onInput={(e) => setDays(e.currentTarget.value)} />
        </label>
        <button class="button" type="submit" disabled={busy || name.trim() === ""}>Create</button>
      </form>
      <ErrorBox error={error ?? keys.error} />
      <ul class="list" data-testid="keys">
        {(keys.data?.keys ?? []).map((k) => (
          <li key={k.id} class="card">
            <div class="row-main">
              <strong class="ellipsis">{k.name}</strong>
              <StatusPill status={statusOf(k)} />
            </div>
            <div class="row-meta">
              <code>{k.prefix}…</code>
              <span>{k.models === null ? "every model" : k.models.join(", ")}</span>
              <span>used {timeAgo(k.lastUsedAt)}</span>
            </div>
            {statusOf(k) === "active" ? <button type="button" class="button small danger" onClick={() => void revoke(k)}>Revoke</button> : null}
          </li>
        ))}
      </ul>
      {created !== null ? <CopyOnce title="Your new inference key" secret={created} onClose={() => setCreated(null)} /> : null}
    </main>
  )
}
