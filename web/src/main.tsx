/**
 * The web UI's entry point: checks who is signed in, then shows the sign-in
 * page or the app shell (header with the connection state, navigation, the
 * page for the current URL). The model gateway's pages appear only when the
 * server answers their routes.
 */
import { render } from "preact"
import { useEffect, useState } from "preact/hooks"
import { del, get, onSignedOut, routeExists, setCsrf, type WebSessionInfo } from "./api.js"
import { describeConnection, useConnection } from "./connection.js"
import { Audit } from "./pages/Audit.js"
import { Gateway, GATEWAY_PAGES } from "./pages/Gateway.js"
import { Hosts } from "./pages/Hosts.js"
import { Keys } from "./pages/Keys.js"
import { Login } from "./pages/Login.js"
import { NewSession } from "./pages/NewSession.js"
import { Providers } from "./pages/Providers.js"
import { Sessions } from "./pages/Sessions.js"
import { SessionView } from "./pages/SessionView.js"
import { Tokens } from "./pages/Tokens.js"
import { navigate, useLocation } from "./router.js"
import "./styles.css"
import { Link } from "./ui.js"

const ConnectionBadge = () => {
  const { text, tone } = describeConnection(useConnection())
  return <span class={`conn conn-${tone}`} data-testid="connection" role="status" aria-live="polite">{text}</span>
}

const Page = ({ me }: { readonly me: WebSessionInfo }) => {
  const { path } = useLocation()
  const isAdmin = me.scope === "admin"
  const canWrite = me.scope !== "read"
  const session = /^\/sessions\/([^/]+)$/.exec(path)
  if (session?.[1] !== undefined) return <SessionView id={decodeURIComponent(session[1])} canWrite={canWrite} />
  if (path === "/new") return canWrite ? <NewSession /> : <main><p class="error">Read-only access cannot start sessions.</p></main>
  if (path === "/hosts") return <Hosts />
  if (path === "/tokens" && isAdmin) return <Tokens />
  if (path === "/audit" && isAdmin) return <Audit />
  if (path === "/providers" && isAdmin) return <Providers />
  if (path === "/keys" && isAdmin) return <Keys />
  if (path === "/models") return <Gateway api="/v1/models" title="Models" />
  return <Sessions canWrite={canWrite} />
}

const Shell = ({ me, onSignOut }: { readonly me: WebSessionInfo; readonly onSignOut: () => void }) => {
  const { path } = useLocation()
  const [menu, setMenu] = useState(false)
  const [gateway, setGateway] = useState<ReadonlyArray<(typeof GATEWAY_PAGES)[number]>>([])
  useEffect(() => {
    let live = true
    const allowed = GATEWAY_PAGES.filter((p) => !p.admin || me.scope === "admin")
    void Promise.all(allowed.map(async (p) => ((await routeExists(p.api)) ? p : null))).then((found) => {
      if (live) setGateway(found.filter((p) => p !== null))
    })
    return () => {
      live = false
    }
  }, [])
  useEffect(() => setMenu(false), [path])
  const links = [
    { href: "/sessions", label: "Sessions" },
    ...(me.scope === "read" ? [] : [{ href: "/new", label: "New session" }]),
    { href: "/hosts", label: "Hosts" },
    ...gateway.map((p) => ({ href: p.path, label: p.title })),
    ...(me.scope === "admin" ? [{ href: "/tokens", label: "Tokens" }, { href: "/audit", label: "Audit" }] : [])
  ]
  return (
    <>
      <header class="top">
        <Link href="/sessions" class="brand">Tether</Link>
        <ConnectionBadge />
        <button type="button" class="menu-button" aria-expanded={menu} aria-controls="nav" onClick={() => setMenu(!menu)}>Menu</button>
        <nav id="nav" class={menu ? "open" : ""}>
          {links.map((l) => (
            <Link key={l.href} href={l.href} class={path === l.href || (l.href === "/sessions" && path.startsWith("/sessions")) ? "active" : ""}>
              {l.label}
            </Link>
          ))}
          <span class="who" title={`${me.name} (${me.prefix}…)`}>{me.scope}</span>
          <button type="button" class="link-button" onClick={onSignOut}>Sign out</button>
        </nav>
      </header>
      <Page me={me} />
    </>
  )
}

const App = () => {
  const [me, setMe] = useState<WebSessionInfo | null | undefined>(undefined)
  useEffect(() => {
    get<WebSessionInfo>("/v1/web/session").then(
      (info) => {
        setCsrf(info.csrf)
        setMe(info)
      },
      () => setMe(null)
    )
    return onSignedOut(() => {
      setCsrf(null)
      setMe(null)
    })
  }, [])
  useEffect(() => {
    if (me === null && location.pathname !== "/login") navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, true)
  }, [me])

  if (me === undefined) return <main class="login"><p>Loading…</p></main>
  if (me === null) {
    return (
      <Login
        onSignedIn={(info) => {
          setCsrf(info.csrf)
          setMe(info)
          const next = new URLSearchParams(location.search).get("next")
          navigate(next !== null && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : "/sessions", true)
        }}
      />
    )
  }
  const signOut = () => {
    void del("/v1/web/session").catch(() => {}).finally(() => {
      setCsrf(null)
      setMe(null)
    })
  }
  return <Shell me={me} onSignOut={signOut} />
}

const root = document.getElementById("app")
if (root !== null) render(<App />, root)
