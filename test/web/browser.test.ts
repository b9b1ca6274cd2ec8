/**
 * The web UI in a real browser: Debian's Chromium driven by playwright-core,
 * against the real server (routes, services, SQLite, static build) on
 * 127.0.0.1. The terminal socket of this server is answered by the test's
 * own relay (fake-relay.ts: real WebSocket, real codec, a real `sh` in a
 * node-pty PTY) on the same origin, authenticating viewers with the real
 * session cookie; browser-e2e.test.ts covers the server's own relay.
 *
 *  - sign in with the password; the sessions list; the connection badge
 *  - approve a pending approval from its card
 *  - type in the terminal and see the program's output; a second browser
 *    context sees the same output live; the PTY follows the controller
 *  - a read-only token signs in, cannot type, cannot approve
 *  - phone size (390×844): no horizontal scrolling on any page
 *  - tokens: create with the copy-once dialog, revoke
 * Screenshots at desktop and phone sizes go to test-artifacts/web/.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { createServer, type IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import * as NodePty from "node-pty"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { SessionJournal } from "../../src/services/sessions/SessionJournal.js"
import { SessionService } from "../../src/services/sessions/SessionService.js"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { seedSession } from "../support/sessions.js"
import { FakeRelay, type Program } from "./fake-relay.js"
import { artifactPath, buildWebApp, DESKTOP, launchChromium, PHONE, startWebServer, TEST_PASSWORD, type WebServer } from "./support.js"

let server: WebServer
let browser: Browser
let relay: FakeRelay
const ptys: Array<NodePty.IPty> = []

const identify = async (request: IncomingMessage) => {
  // Same-origin only, like the real relay.
  if (request.headers.origin !== undefined && request.headers.origin !== server.url) return undefined
  const response = await fetch(`${server.url}/v1/web/session`, { headers: { cookie: request.headers.cookie ?? "" } })
  if (!response.ok) return undefined
  const me = (await response.json()) as { tokenId: string; name: string; prefix: string; scope: string }
  return { id: me.tokenId, name: `${me.name} (${me.prefix}…)`, canWrite: me.scope !== "read" }
}

beforeAll(async () => {
  const webRoot = await buildWebApp()
  relay = new FakeRelay({
    authorize: identify,
    spawn: (_sessionId, emit, size): Program => {
      const pty = NodePty.spawn("sh", [], {
        cols: size.cols,
        rows: size.rows,
        cwd: "/tmp",
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", PS1: "$ ", TERM: "xterm-256color", HOME: "/tmp" }
      })
      ptys.push(pty)
      pty.onData((data) => emit(Buffer.from(data)))
      return {
        write: (data) => pty.write(Buffer.from(data).toString("utf8")),
        resize: (cols, rows) => pty.resize(cols, rows),
        kill: () => pty.kill()
      }
    }
  })
  server = await startWebServer(webRoot, (request: IncomingMessage, socket: Duplex, head: Buffer) => relay.handleUpgrade(request, socket, head))
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  relay?.close()
  for (const pty of ptys) pty.kill()
  await server?.stop()
})

const seed = (harness?: string) => server.runtime.runPromise(seedSession(harness === undefined ? {} : { harness }))

const newContext = (viewport: { width: number; height: number }): Promise<BrowserContext> =>
  browser.newContext({ viewport, baseURL: server.url, deviceScaleFactor: 1 })

const signIn = async (page: Page, secret: { password: string } | { token: string }) => {
  await page.goto("/")
  await page.waitForURL(/\/login/)
  if ("token" in secret) await page.getByRole("tab", { name: "Access token" }).click()
  await page.locator("input[type=password]").fill("password" in secret ? secret.password : secret.token)
  await page.getByRole("button", { name: "Sign in" }).click()
  await page.getByRole("heading", { name: "Sessions" }).waitFor()
}

const terminalText = (page: Page) => page.locator(".xterm-rows").innerText()

const waitForTerminalText = async (page: Page, text: string, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await terminalText(page)).includes(text)) {
    if (Date.now() > deadline) throw new Error(`terminal never showed ${JSON.stringify(text)}; it shows:\n${await terminalText(page)}`)
    await page.waitForTimeout(50)
  }
}

const noHorizontalScroll = (page: Page) =>
  page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth && document.body.scrollWidth <= window.innerWidth)

const readToken = () =>
  server.runtime.runPromise(Effect.flatMap(TokenStore, (t) => t.issue({ kind: "access", name: "viewer", scope: "read", createdBy: "test" })).pipe(
    Effect.map((issued) => Redacted.value(issued.token))
  ))

describe("web UI in Chromium", () => {
  it("signs in with the password and shows the sessions list with the connection state", async () => {
    const id = await seed()
    const context = await newContext(DESKTOP)
    const page = await context.newPage()
    await signIn(page, { password: TEST_PASSWORD })
    await page.locator(`a[href="/sessions/${id}"]`).waitFor()
    assert.strictEqual(await page.getByTestId("connection").innerText(), "online")
    const cookies = await context.cookies()
    const session = cookies.find((c) => c.name === "tether_session")
    assert.isTrue(session?.httpOnly)
    assert.strictEqual(session?.sameSite, "Strict")
    // The page's scripts cannot read the session cookie.
    assert.notInclude(await page.evaluate(() => document.cookie), "tether_session")
    await page.screenshot({ path: artifactPath("desktop-sessions"), fullPage: true })
    await context.close()
  })

  it("approves a pending approval from its card", async () => {
    const id = await seed()
    await server.runtime.runPromise(Effect.flatMap(SessionJournal, (j) =>
      j.record(id, [{ type: "approval_request", requestId: "req_1", tool: "Bash", input: { command: "rm -rf build" }, description: "Remove the build folder" }])))
    const context = await newContext(DESKTOP)
    const page = await context.newPage()
    await signIn(page, { password: TEST_PASSWORD })
    await page.goto(`/sessions/${id}?tab=timeline`)
    const card = page.getByTestId("approval")
    await card.getByText("rm -rf build").waitFor()
    await page.screenshot({ path: artifactPath("desktop-approval"), fullPage: true })
    await card.getByRole("button", { name: "Allow", exact: true }).click()
    await card.locator(".pill", { hasText: "allow" }).waitFor()
    const after = await server.runtime.runPromise(Effect.flatMap(SessionService, (s) => s.get(id)))
    assert.deepStrictEqual(after.pendingApprovals, [])
    await context.close()
  })

  it("types in the terminal and a second browser sees the same output live", async () => {
    const id = await seed("terminal")
    const first = await newContext(DESKTOP)
    const ana = await first.newPage()
    await signIn(ana, { password: TEST_PASSWORD })
    await ana.goto(`/sessions/${id}?tab=terminal`)
    await ana.getByTestId("terminal-state").getByText("connected").waitFor()
    await ana.getByRole("button", { name: "Take control" }).click()
    await ana.getByText("you control it").waitFor()
    await ana.locator(".xterm").click()
    await ana.keyboard.type("echo tether-$((6*7))")
    await ana.keyboard.press("Enter")
    await waitForTerminalText(ana, "tether-42")

    const second = await newContext(PHONE)
    const ben = await second.newPage()
    await signIn(ben, { password: TEST_PASSWORD })
    await ben.goto(`/sessions/${id}?tab=terminal`)
    await waitForTerminalText(ben, "tether-42")
    await ben.getByText(/controlled by web session/).waitFor()
    // Live: typed by the first browser, seen by the second.
    await ana.keyboard.type("echo live-$((20+3))")
    await ana.keyboard.press("Enter")
    await waitForTerminalText(ben, "live-23")
    // The PTY follows the controller's size and the viewer follows the PTY.
    const pty = relay.terminals.get(id)
    assert.isDefined(pty)
    const viewerCols = await ben.evaluate(() => document.querySelector(".xterm-rows > div")?.textContent?.length ?? 0)
    assert.isAtLeast(viewerCols, 1)
    assert.notStrictEqual(pty?.cols, 80, "the controller's fitted size reached the PTY")
    // The extra key row: Ctrl (sticky) then c interrupts a running command.
    await ana.keyboard.type("sleep 30")
    await ana.keyboard.press("Enter")
    await ana.waitForTimeout(300)
    await ana.getByRole("button", { name: "Ctrl" }).click()
    await ana.keyboard.type("c")
    await ana.keyboard.type("echo ctrl-$((2+5))")
    await ana.keyboard.press("Enter")
    await waitForTerminalText(ben, "ctrl-7", 5_000)
    await ben.screenshot({ path: artifactPath("phone-terminal"), fullPage: true })
    await ana.screenshot({ path: artifactPath("desktop-terminal"), fullPage: true })
    assert.isTrue(await noHorizontalScroll(ben))

    // A dropped connection is shown and repaired without losing output.
    relay.dropConnections()
    await ben.getByTestId("terminal-state").getByText("connected").waitFor()
    await ana.getByTestId("terminal-state").getByText("connected").waitFor()
    await ana.getByRole("button", { name: "Take control" }).click().catch(() => {})
    await ana.getByText("you control it").waitFor()
    await ana.locator(".xterm").click()
    await ana.keyboard.type("echo after-$((1+1))")
    await ana.keyboard.press("Enter")
    await waitForTerminalText(ben, "after-2")
    const text = await terminalText(ben)
    assert.strictEqual(text.split("echo tether-$((6*7))").length - 1, 1, "the command line appears once")
    assert.strictEqual(text.split("tether-42").length - 1, 1, "its output appears once")
    await first.close()
    await second.close()
  })

  it("a read-only token signs in but cannot type or approve", async () => {
    const id = await seed("terminal")
    await server.runtime.runPromise(Effect.flatMap(SessionJournal, (j) =>
      j.record(id, [{ type: "approval_request", requestId: "req_ro", tool: "Edit", input: { file: "a.txt" }, description: null }])))
    const context = await newContext(PHONE)
    const page = await context.newPage()
    await signIn(page, { token: await readToken() })
    await page.getByRole("button", { name: "Menu" }).click()
    assert.strictEqual(await page.getByRole("link", { name: "New session" }).count(), 0)
    assert.strictEqual(await page.getByRole("link", { name: "Tokens" }).count(), 0)

    await page.goto(`/sessions/${id}?tab=timeline`)
    await page.getByText("Read-only access: someone with write access must decide.").waitFor()
    assert.strictEqual(await page.getByRole("button", { name: "Allow", exact: true }).count(), 0)
    assert.strictEqual(await page.locator("textarea[name=message]").count(), 0)
    await page.screenshot({ path: artifactPath("phone-session-read-only"), fullPage: true })

    await page.goto(`/sessions/${id}?tab=terminal`)
    await page.getByTestId("read-only").waitFor()
    assert.strictEqual(await page.getByRole("button", { name: "Take control" }).count(), 0)
    assert.strictEqual(await page.locator(".key-row").count(), 0)
    await page.locator(".xterm").click()
    await page.keyboard.type("touch /tmp/should-not-exist\r")
    await page.getByText("Read-only: your access cannot type into this terminal.").waitFor()
    await page.waitForTimeout(300)
    assert.notInclude(relay.terminals.get(id)?.output.toString("utf8") ?? "", "should-not-exist")
    await context.close()
  })

  it("fits a phone: no horizontal scrolling on any page; tokens are shown once and can be revoked", async () => {
    const id = await seed()
    await server.runtime.runPromise(Effect.flatMap(SessionJournal, (j) =>
      j.record(id, [
        { type: "message", messageId: "m1", role: "user", text: "Please refactor the parser and keep the public API stable." },
        { type: "tool_call", callId: "c1", name: "Read", input: { path: "/a/very/long/path/that/would/overflow/a/narrow/phone/screen/parser.ts" } },
        { type: "tool_result", callId: "c1", output: "x".repeat(400), isError: false },
        { type: "message_delta", messageId: "m2", text: "Working on it: " },
        { type: "message_delta", messageId: "m2", text: "the tokenizer comes first." }
      ])))
    const context = await newContext(PHONE)
    const page = await context.newPage()
    await page.goto("/")
    await page.waitForURL(/\/login/)
    await page.screenshot({ path: artifactPath("phone-login") })
    assert.isTrue(await noHorizontalScroll(page))
    await signIn(page, { password: TEST_PASSWORD })

    const pages: ReadonlyArray<[string, string]> = [
      ["/sessions", "phone-sessions"],
      ["/new", "phone-new-session"],
      [`/sessions/${id}?tab=timeline`, "phone-session-timeline"],
      ["/hosts", "phone-hosts"],
      ["/tokens", "phone-tokens"],
      ["/audit", "phone-audit"],
      ["/providers", "phone-providers"],
      ["/keys", "phone-keys"],
      ["/models", "phone-models"]
    ]
    for (const [path, name] of pages) {
      await page.goto(path)
      await page.locator("main h1").first().waitFor()
      await page.waitForTimeout(200)
      if (path.includes("timeline")) {
        await page.getByText("the tokenizer comes first.").waitFor()
        await page.locator("summary", { hasText: "Read" }).click()
      }
      await page.screenshot({ path: artifactPath(name), fullPage: true })
      assert.notInclude(page.url(), "/login", `${path} signed the user out`)
      assert.isTrue(await noHorizontalScroll(page), `${path} scrolls sideways at 390 px`)
    }
    // Tap targets: buttons and links in the page body are at least 36 px high.
    await page.goto("/tokens")
    const small = await page.evaluate(() =>
      Array.from(document.querySelectorAll("main button, main a.button, main input, main select"))
        .filter((e) => e.getBoundingClientRect().height < 36).length)
    assert.strictEqual(small, 0)

    await page.locator("input[name=name]").fill("phone-made")
    await page.getByRole("button", { name: "Create" }).click()
    const secret = page.getByTestId("new-token")
    await secret.waitFor()
    assert.match(await secret.inputValue(), /^tat_/)
    await page.screenshot({ path: artifactPath("phone-token-created") })
    await page.getByRole("button", { name: "Done" }).click()
    assert.strictEqual(await page.getByTestId("new-token").count(), 0)
    page.once("dialog", (dialog) => void dialog.accept())
    const row = page.getByTestId("tokens").locator("li", { hasText: "phone-made" })
    await row.getByRole("button", { name: "Revoke" }).click()
    await row.locator(".pill", { hasText: "revoked" }).waitFor()

    // Inference keys: the same copy-once dialog.
    await page.goto("/keys")
    await page.locator("input[name=name]").fill("phone-key")
    await page.getByRole("button", { name: "Create" }).click()
    await secret.waitFor()
    assert.match(await secret.inputValue(), /^tsk_/)
    await page.getByRole("button", { name: "Done" }).click()
    await page.getByTestId("keys").locator("li", { hasText: "phone-key" }).waitFor()

    await page.setViewportSize(DESKTOP)
    await page.goto(`/sessions/${id}?tab=timeline`)
    await page.getByText("the tokenizer comes first.").waitFor()
    await page.screenshot({ path: artifactPath("desktop-session-timeline"), fullPage: true })
    await context.close()
  })

  it("the timeline follows new events live and resumes after going offline with nothing lost or repeated", async () => {
    const id = await seed()
    const say = (text: string) =>
      server.runtime.runPromise(Effect.flatMap(SessionJournal, (j) => j.record(id, [{ type: "message", messageId: `m_${text}`, role: "assistant", text }])))
    await say("first")
    const context = await newContext(DESKTOP)
    const page = await context.newPage()
    await signIn(page, { password: TEST_PASSWORD })
    await page.goto(`/sessions/${id}?tab=timeline`)
    await page.getByText("first").waitFor()
    await page.getByTestId("stream-state").getByText("events: live").waitFor()
    await say("second")
    await page.getByText("second").waitFor()

    await context.setOffline(true)
    await page.getByTestId("connection").getByText(/reconnecting|unreachable/).waitFor({ timeout: 15_000 })
    await say("third")
    await context.setOffline(false)
    await page.getByText("third").waitFor({ timeout: 20_000 })
    await page.getByTestId("stream-state").getByText("events: live").waitFor()
    const texts = await page.getByTestId("message").locator(".text").allInnerTexts()
    assert.deepStrictEqual(texts, ["first", "second", "third"])
    await context.close()
  }, 60_000)

  it("signs out: the cookie's token is revoked and the app returns to the sign-in page", async () => {
    const context = await newContext(DESKTOP)
    const page = await context.newPage()
    await signIn(page, { password: TEST_PASSWORD })
    await page.getByRole("button", { name: "Sign out" }).click()
    await page.waitForURL(/\/login/)
    const cookies = await context.cookies()
    assert.isUndefined(cookies.find((c) => c.name === "tether_session"))
    await context.close()
  })
})
