/**
 * End to end through the browser with real processes: `tether server run`
 * (the bundled CLI, serving dist/web), a local `tether host`, and Chromium.
 * The page starts a `terminal` session on the local host, types into the
 * terminal through the server's own relay and sees the program's output; a
 * second browser context sees the same output live; a read-only token's
 * browser cannot type. Everything listens on 127.0.0.1.
 *
 * Needs `npm run build` (dist/tether.mjs and dist/web) and /usr/bin/chromium.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Browser, Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { childEnv, cliPath, freeTempHome, type RunningServer, startServer, type TempHome } from "../support/processes.js"
import { artifactPath, DESKTOP, launchChromium, PHONE } from "./support.js"

const PASSWORD = "correct-horse-battery-staple"
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let server: RunningServer
let serverHome: TempHome
let hostHome: TempHome
let host: ChildProcess
let hostOutput = ""
let browser: Browser
let adminToken: string
let workDir: string

const api = async <A>(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: A }> => {
  const response = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  return { status: response.status, body: (text === "" ? null : JSON.parse(text)) as A }
}

const eventually = async (what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- host output ---\n${hostOutput}`)
    await sleep(100)
  }
}

beforeAll(async () => {
  serverHome = freeTempHome()
  hostHome = freeTempHome()
  workDir = mkdtempSync(join(tmpdir(), "tether-web-e2e-"))
  server = await startServer({ home: serverHome.dir, env: { TETHER_PASSWORD: PASSWORD } })
  const connect = await fetch(`${server.url}/api/cli/connect`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ password: PASSWORD, name: "e2e" })
  })
  assert.strictEqual(connect.status, 201)
  adminToken = ((await connect.json()) as { token: string }).token
  host = spawn(process.execPath, [cliPath, "host", "--name", "local"], {
    env: childEnv(hostHome.dir, { TETHER_SERVER: server.url, TETHER_TOKEN: adminToken }),
    cwd: hostHome.dir,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  host.stdout?.setEncoding("utf8").on("data", (chunk: string) => (hostOutput += chunk))
  host.stderr?.setEncoding("utf8").on("data", (chunk: string) => (hostOutput += chunk))
  await eventually("the local host online with the terminal harness", async () => {
    const { body } = await api<{ hosts: ReadonlyArray<{ online: boolean; harnesses: ReadonlyArray<{ name: string }> }> }>("GET", "/v1/hosts", adminToken)
    return body.hosts.some((h) => h.online && h.harnesses.some((x) => x.name === "terminal"))
  })
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  if (host?.pid !== undefined && host.exitCode === null) {
    try {
      process.kill(-host.pid, "SIGTERM")
    } catch {
      // gone
    }
    await Promise.race([new Promise((resolve) => host.once("exit", resolve)), sleep(10_000)])
    try {
      process.kill(-host.pid, "SIGKILL")
    } catch {
      // gone
    }
  }
  await server?.stop()
  await hostHome?.cleanup()
  await serverHome?.cleanup()
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true })
}, 30_000)

const signIn = async (page: Page, secret: { password: string } | { token: string }) => {
  await page.goto(server.url + "/")
  await page.waitForURL(/\/login/)
  if ("token" in secret) await page.getByRole("tab", { name: "Access token" }).click()
  await page.locator("input[type=password]").fill("password" in secret ? secret.password : secret.token)
  await page.getByRole("button", { name: "Sign in" }).click()
  await page.getByRole("heading", { name: "Sessions" }).waitFor()
}

const terminalText = (page: Page) => page.locator(".xterm-rows").innerText()
const waitForTerminalText = async (page: Page, text: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await terminalText(page)).includes(text)) {
    if (Date.now() > deadline) throw new Error(`terminal never showed ${JSON.stringify(text)}; it shows:\n${await terminalText(page)}\n--- host ---\n${hostOutput}`)
    await page.waitForTimeout(100)
  }
}

/** Takes control when the page offers it (the relay may already have granted it). */
const control = async (page: Page) => {
  await page.getByTestId("terminal-state").getByText("connected").waitFor()
  const take = page.getByRole("button", { name: "Take control" })
  if (await take.isVisible()) await take.click()
  await page.getByText("you control it").waitFor()
  await page.locator(".xterm").click()
}

describe("web UI end to end (server + local host + Chromium)", () => {
  it("starts a terminal session from the page, types into it, and a second browser follows live; a read-only browser cannot type", async () => {
    const desktop = await browser.newContext({ viewport: DESKTOP })
    const ana = await desktop.newPage()
    await signIn(ana, { password: PASSWORD })
    await ana.goto(server.url + "/new")
    await ana.locator("select[name=host] option", { hasText: "local" }).waitFor({ state: "attached" })
    await ana.locator("select[name=harness]").selectOption("terminal")
    await ana.locator("input[name=cwd]").fill(workDir)
    await ana.locator("input[name=command]").fill("sh")
    await ana.screenshot({ path: artifactPath("e2e-desktop-new-session"), fullPage: true })
    await ana.getByRole("button", { name: "Start session" }).click()
    await ana.waitForURL(/\/sessions\/ses_/)
    const sessionId = new URL(ana.url()).pathname.split("/").pop() ?? ""
    // A harness that cannot start fails the session: say why instead of waiting for output.
    await sleep(1000)
    const { body: started } = await api<{ status: string; statusReason: string | null }>("GET", `/v1/sessions/${sessionId}`, adminToken)
    assert.notStrictEqual(started.status, "failed", `the terminal session failed to start: ${started.statusReason}`)

    await control(ana)
    await ana.keyboard.type("echo tether-$((6*7))")
    await ana.keyboard.press("Enter")
    await waitForTerminalText(ana, "tether-42")

    const phone = await browser.newContext({ viewport: PHONE })
    const ben = await phone.newPage()
    await signIn(ben, { password: PASSWORD })
    await ben.goto(`${server.url}/sessions/${sessionId}?tab=terminal`)
    await waitForTerminalText(ben, "tether-42")
    await ana.keyboard.type("echo live-$((20+3))")
    await ana.keyboard.press("Enter")
    await waitForTerminalText(ben, "live-23")
    await ben.screenshot({ path: artifactPath("e2e-phone-terminal"), fullPage: true })
    await ana.screenshot({ path: artifactPath("e2e-desktop-terminal"), fullPage: true })

    const { body: readOnly } = await api<{ token: string }>("POST", "/api/cli/tokens", adminToken, { name: "watcher", scope: "read" })
    const watcher = await browser.newContext({ viewport: PHONE })
    const carl = await watcher.newPage()
    await signIn(carl, { token: readOnly.token })
    await carl.goto(`${server.url}/sessions/${sessionId}?tab=terminal`)
    await waitForTerminalText(carl, "live-23")
    await carl.getByTestId("read-only").waitFor()
    await carl.locator(".xterm").click()
    await carl.keyboard.type("echo sneaky-$((2*3))")
    await carl.keyboard.press("Enter")
    await carl.waitForTimeout(500)
    assert.notInclude(await terminalText(ben), "sneaky")
    assert.notInclude(await terminalText(ben), "sneaky-6")

    await api("POST", `/v1/sessions/${sessionId}/events`, adminToken, { type: "stop" })
    await desktop.close()
    await phone.close()
    await watcher.close()
  }, 90_000)
})
