/**
 * Loss-free streaming, as a property: a real PTY prints a known stream while
 * the runner's link to the server is cut at random moments (through a TCP
 * proxy: the runner stays alive and reconnects) and viewers drop and
 * reconnect with their last offset at random moments. Every viewer ends up
 * with exactly the PTY's bytes (no gap, no duplicate), and so does the
 * server's transcript.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import fc from "fast-check"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { runHost } from "../../src/runner/host.js"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { apiServerLayer } from "../support/api-server.js"
import { sqliteTestLayer } from "../support/databases.js"
import { startTcpProxy } from "../support/tcp-proxy.js"
import { openViewer, type TestViewer } from "../support/terminal-viewer.js"

const home = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "tether-terminal-loss-"))
process.env["TETHER_HOME"] = home

const BURSTS = 12
const PER_BURST = 6000
/** The program: turns echo off, says R, waits for a line, then prints numbered lines in bursts. */
const PROGRAM = `stty -echo; printf R; read go; i=0; while [ $i -lt ${BURSTS} ]; do seq $((i*${PER_BURST}+1)) $(((i+1)*${PER_BURST})); i=$((i+1)); sleep 0.04; done`
/** What the PTY turns that into (onlcr: \n → \r\n). */
const expected = "R" + Array.from({ length: BURSTS * PER_BURST }, (_, i) => `${i + 1}\r\n`).join("")

const issue = (scope: "admin" | "write", name: string) =>
  Effect.flatMap(TokenStore, (t) => t.issue({ kind: "access", name, scope, createdBy: "test" })).pipe(
    Effect.map((issued) => Redacted.value(issued.token))
  )

/** A viewer that reconnects on demand and keeps every byte it was sent. */
const resilientViewer = async (url: string, sessionId: string, token: string) => {
  let bytes = ""
  let snapshots = 0
  let from: number | null = null
  let current: TestViewer = await openViewer(url, sessionId, { token })
  const harvest = (viewer: TestViewer) => {
    for (const frame of viewer.frames) {
      if (frame._tag !== "Snapshot") continue
      snapshots++
      from ??= frame.offset
    }
    bytes += viewer.output()
  }
  /** Reconnects run one after another, like a real client's. */
  let pending: Promise<void> = Promise.resolve()
  return {
    reconnect: () => {
      pending = pending.then(async () => {
        const offset = current.offset()
        harvest(current)
        current.close()
        current = await openViewer(url, sessionId, { token, resumeFrom: offset })
      })
      return pending
    },
    finish: async () => {
      await pending
      await current.waitFor("every byte", () => current.offset() >= expected.length, 30_000)
      harvest(current)
      current.close()
      return { bytes, snapshots, from: from ?? 0 }
    },
    get viewer() {
      return current
    }
  }
}

layer(apiServerLayer(sqliteTestLayer()), { excludeTestServices: true })("terminal relay: loss-free", (it) => {
  it.scoped("random cuts of the runner link and of viewer links: every viewer gets exactly the PTY's bytes", () =>
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const port = server.address._tag === "TcpAddress" ? server.address.port : 0
      const url = `http://127.0.0.1:${port}`
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startTcpProxy(port)), (p) => Effect.promise(() => p.close()))
      const admin = yield* issue("admin", "admin")
      const runner = yield* issue("write", "runner")
      const writer = yield* issue("write", "viewer")
      yield* Effect.forkScoped(runHost({
        serverUrl: proxy.url,
        token: Redacted.make(runner),
        hostName: "lossy-host",
        tunnel: { heartbeatInterval: "1 second", heartbeatTimeout: "2 seconds" }
      }))
      const client = yield* HttpClient.HttpClient
      const post = (path: string, body: unknown) =>
        client.execute(HttpClientRequest.post(path).pipe(HttpClientRequest.bearerToken(admin), HttpClientRequest.bodyUnsafeJson(body))).pipe(
          Effect.flatMap((r) => r.json),
          Effect.map((json) => json as Record<string, unknown>)
        )
      for (let i = 0; ; i++) {
        const hosts = yield* client.execute(HttpClientRequest.get("/v1/hosts").pipe(HttpClientRequest.bearerToken(admin))).pipe(
          Effect.flatMap((r) => r.json),
          Effect.map((json) => (json as { hosts: ReadonlyArray<{ name: string; online: boolean }> }).hosts)
        )
        if (hosts.some((h) => h.name === "lossy-host" && h.online)) break
        if (i > 200) return yield* Effect.dieMessage("the host did not come online")
        yield* Effect.sleep("25 millis")
      }

      const cutTimes = fc.array(fc.integer({ min: 0, max: 900 }), { maxLength: 3 })
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(cutTimes, cutTimes, cutTimes, async (runnerCuts, viewerACuts, viewerBCuts) => {
            const created = await Effect.runPromise(
              post("/v1/sessions", { harness: "terminal", cwd: home, args: ["sh", "-c", PROGRAM], hostId: "lossy-host" }).pipe(
                Effect.provideService(HttpClient.HttpClient, client)
              )
            )
            const id = String(created["id"])
            const a = await resilientViewer(url, id, writer)
            const b = await resilientViewer(url, id, writer)
            const ready = (v: TestViewer) => v.output().includes("R") || v.frames.some((f) => f._tag === "Snapshot" && f.data.includes("R"))
            await a.viewer.waitFor("the program to be ready", () => ready(a.viewer))
            // Cuts may come right after the keystrokes: ones written to a link that breaks before the
            // runner reads them are written again on its next link (the runner's hello says how much it got).
            a.viewer.type("go\r")
            const timers = [
              ...runnerCuts.map((t) => setTimeout(() => proxy.cut(), t)),
              ...viewerACuts.map((t) => setTimeout(() => void a.reconnect(), t)),
              ...viewerBCuts.map((t) => setTimeout(() => void b.reconnect(), t))
            ]
            try {
              await new Promise((r) => setTimeout(r, 950))
              const [resultA, resultB] = await Promise.all([a.finish(), b.finish()])
              for (const result of [resultA, resultB]) {
                assert.strictEqual(result.snapshots, 1, "only the first connection needs a snapshot")
                const want = expected.slice(result.from)
                assert.strictEqual(result.bytes.length, want.length)
                assert.isTrue(result.bytes === want, "the viewer's bytes equal the PTY's output from its snapshot on")
              }
              // Viewers get output as it arrives; the transcript writes it a few milliseconds later (batched).
              const transcriptPath = NodePath.join(home, "terminals", `${id}.out`)
              for (let waited = 0; waited < 10_000 && NodeFs.statSync(transcriptPath).size < expected.length; waited += 20) {
                await new Promise((r) => setTimeout(r, 20))
              }
              const transcript = NodeFs.readFileSync(transcriptPath, "utf8")
              assert.isTrue(transcript.startsWith(expected), "the transcript holds the PTY's output")
            } finally {
              timers.forEach(clearTimeout)
            }
          }),
          { numRuns: 5, seed: Number(process.env["TETHER_PROPERTY_SEED"] ?? Date.now() % 100_000), endOnFailure: true }
        )
      )
    }), { timeout: 120_000 })
})
