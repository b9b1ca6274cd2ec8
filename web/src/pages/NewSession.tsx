/**
 * Start a session: host, harness, working directory and the first prompt;
 * for the `terminal` harness, the command to run in a PTY (default `bash -l`).
 */
import { useEffect, useState } from "preact/hooks"
import { get, post } from "../api.js"
import { useLoad } from "../hooks.js"
import { navigate } from "../router.js"
import type { HostInfo, Session } from "../types.js"
import { splitCommand } from "../command-line.js"
import { ErrorBox, messageOf } from "../ui.js"

const LAST_CWD = "tether.lastCwd"

export const NewSession = () => {
  const hosts = useLoad(() => get<{ hosts: ReadonlyArray<HostInfo> }>("/v1/hosts"), "hosts")
  const [hostId, setHostId] = useState("")
  const [harness, setHarness] = useState("terminal")
  const [cwd, setCwd] = useState(() => localStorage.getItem(LAST_CWD) ?? "")
  const [prompt, setPrompt] = useState("")
  const [command, setCommand] = useState("bash -l")
  const [title, setTitle] = useState("")
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const online = (hosts.data?.hosts ?? []).filter((h) => h.online)
  useEffect(() => {
    if (hostId === "" && online.length > 0) setHostId(online[0]?.id ?? "")
  }, [hosts.data])
  const host = (hosts.data?.hosts ?? []).find((h) => h.id === hostId)
  const harnesses = [...new Set(["terminal", ...(host?.harnesses ?? []).map((h) => h.name)])]
  const isTerminal = harness === "terminal"

  const submit = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const args = isTerminal ? splitCommand(command) : []
      if (isTerminal && args.length === 0) throw new Error("enter the command to run, e.g. bash -l")
      const session = await post<Session>("/v1/sessions", {
        harness,
        cwd: cwd.trim(),
        args,
        ...(hostId === "" ? {} : { hostId }),
        ...(title.trim() === "" ? {} : { title: title.trim() }),
        ...(!isTerminal && prompt.trim() !== "" ? { prompt } : {})
      })
      localStorage.setItem(LAST_CWD, cwd.trim())
      navigate(`/sessions/${session.id}`)
    } catch (e) {
      setError(messageOf(e))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main>
      <h1>New session</h1>
      <form class="card" onSubmit={submit}>
        <label class="field">
          <span>Host</span>
          <select name="host" value={hostId} onChange={(e) => setHostId(e.currentTarget.value)}>
            {online.length === 0
              ? <option value="">{(hosts.data?.hosts ?? []).length === 0 ? "no hosts yet: run `tether host`" : "no host is online"}</option>
              : null}
            {(hosts.data?.hosts ?? []).map((h) => (
              <option key={h.id} value={h.id} disabled={!h.online}>{h.name}{h.online ? "" : " (offline)"}</option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Harness</span>
          <select name="harness" value={harness} onChange={(e) => setHarness(e.currentTarget.value)}>
            {harnesses.map((h) => {
              const info = host?.harnesses.find((x) => x.name === h)
              return <option key={h} value={h}>{h}{info !== undefined && !info.ready ? " (not ready)" : ""}</option>
            })}
          </select>
        </label>
        <label class="field">
          <span>Working directory</span>
          <input name="cwd" required placeholder="/home/you/project" value={cwd} onInput={(e) => setCwd(e.currentTarget.value)} autocapitalize="off" spellcheck={false} />
        </label>
        {isTerminal
          ? (
            <label class="field">
              <span>Command</span>
              <input name="command" value={command} onInput={(e) => setCommand(e.currentTarget.value)} autocapitalize="off" spellcheck={false} />
            </label>
          )
          : (
            <label class="field">
              <span>First prompt</span>
              <textarea name="prompt" rows={5} value={prompt} onInput={(e) => setPrompt(e.currentTarget.value)} />
            </label>
          )}
        <label class="field">
          <span>Title (optional)</span>
          <input name="title" value={title} maxLength={200} onInput={(e) => setTitle(e.currentTarget.value)} />
        </label>
        <ErrorBox error={error ?? hosts.error} />
        <button class="button" type="submit" disabled={busy}>{busy ? "Starting…" : "Start session"}</button>
      </form>
    </main>
  )
}
