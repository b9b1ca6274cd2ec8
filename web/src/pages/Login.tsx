/** Sign in with the management password or an access token. */
import { useState } from "preact/hooks"
import { request, type WebSessionInfo } from "../api.js"
import { ErrorBox, messageOf } from "../ui.js"

export const Login = ({ onSignedIn }: { readonly onSignedIn: (info: WebSessionInfo) => void }) => {
  const [mode, setMode] = useState<"password" | "token">("password")
  const [secret, setSecret] = useState("")
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const submit = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const info = await request<WebSessionInfo>(
        "POST",
        "/v1/web/session",
        mode === "password" ? { password: secret } : { token: secret.trim() },
        { quiet401: true }
      )
      setSecret("")
      onSignedIn(info)
    } catch (e) {
      setError(messageOf(e))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="login">
      <h1>Tether</h1>
      <form class="card" onSubmit={submit}>
        <div class="segmented" role="tablist">
          <button type="button" role="tab" aria-selected={mode === "password"} class={mode === "password" ? "on" : ""} onClick={() => setMode("password")}>
            Password
          </button>
          <button type="button" role="tab" aria-selected={mode === "token"} class={mode === "token" ? "on" : ""} onClick={() => setMode("token")}>
            Access token
          </button>
        </div>
        <label class="field">
          <span>{mode === "password" ? "Management password" : "Access token (tat_…)"}</span>
          <input
            name={mode}
            type="password"
            autocomplete={mode === "password" ? "current-password" : "off"}
            required
            value={secret}
            onInput={(e) => setSecret(e.currentTarget.value)}
          />
        </label>
        <ErrorBox error={error} />
        <button class="button" type="submit" disabled={busy || secret === ""}>{busy ? "Signing in…" : "Sign in"}</button>
        <p class="hint">The session lasts a few hours and is kept in a secure cookie. Sign out from the menu.</p>
      </form>
    </main>
  )
}
