/** Model providers of the gateway: list, add (API key stored encrypted, never shown again), remove. Admin only. */
import { useState } from "preact/hooks"
import { del, get, post } from "../api.js"
import { useLoad } from "../hooks.js"
import { ErrorBox, messageOf, timeAgo } from "../ui.js"

interface ProviderInfo {
  readonly name: string
  readonly baseUrl: string
  readonly format: string
  readonly hasApiKey: boolean
  readonly models: ReadonlyArray<unknown>
  readonly createdAt: string
}

const FORMATS = ["openai-chat", "openai-responses", "anthropic"]

export const Providers = () => {
  const providers = useLoad(() => get<{ providers: ReadonlyArray<ProviderInfo> }>("/v1/providers"), "providers")
  const [name, setName] = useState("")
  const [baseUrl, setBaseUrl] = useState("")
  const [format, setFormat] = useState("openai-chat")
  const [apiKey, setApiKey] = useState("")
  const [discover, setDiscover] = useState(true)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const add = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await post("/v1/providers", {
        name: name.trim(),
        baseUrl: baseUrl.trim(),
        format,
        discover,
        ...(apiKey === "" ? {} : { apiKey })
      })
      setName("")
      setBaseUrl("")
      setApiKey("")
      providers.reload()
    } catch (e) {
      setError(messageOf(e))
    } finally {
      setBusy(false)
    }
  }

  const remove = async (provider: ProviderInfo) => {
    if (!confirm(`Remove provider ${provider.name}?`)) return
    try {
      await del(`/v1/providers/${encodeURIComponent(provider.name)}`)
      providers.reload()
    } catch (e) {
      setError(messageOf(e))
    }
  }

  return (
    <main>
      <h1>Providers</h1>
      <form class="card" onSubmit={add}>
        <h2>Add a provider</h2>
        <label class="field">
          <span>Name</span>
          <input name="name" required placeholder="openai" value={name} onInput={(e) => setName(e.currentTarget.value)} autocapitalize="off" />
        </label>
        <label class="field">
          <span>Base URL</span>
          <input name="baseUrl" required type="url" placeholder="https://api.example.com/v1" value={baseUrl} onInput={(e) => setBaseUrl(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Format</span>
          <select name="format" value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
            {FORMATS.map((f) => <option key={f} value={f}>{f}</option>)}
          </select>
        </label>
        <label class="field">
          <span>API key (optional; stored encrypted)</span>
          <input name="apiKey" type="password" autocomplete="off" value={apiKey} onInput={(e) => setApiKey(e.currentTarget.value)} />
        </label>
        <label class="check">
          <input type="checkbox" checked={discover} onChange={(e) => setDiscover(e.currentTarget.checked)} />
          <span>Ask the provider for its models</span>
        </label>
        <button class="button" type="submit" disabled={busy || name.trim() === "" || baseUrl.trim() === ""}>Add</button>
      </form>
      <ErrorBox error={error ?? providers.error} />
      <ul class="list" data-testid="providers">
        {(providers.data?.providers ?? []).map((p) => (
          <li key={p.name} class="card">
            <div class="row-main">
              <strong class="ellipsis">{p.name}</strong>
              <span class="pill pill-info">{p.format}</span>
            </div>
            <div class="row-meta">
              <span class="ellipsis">{p.baseUrl}</span>
              <span>{p.hasApiKey ? "key stored" : "no key"}</span>
              <span>{p.models.length === 0 ? "any model" : `${p.models.length} models`}</span>
              <span>added {timeAgo(p.createdAt)}</span>
            </div>
            <button type="button" class="button small danger" onClick={() => void remove(p)}>Remove</button>
          </li>
        ))}
      </ul>
    </main>
  )
}
