/**
 * A TCP proxy on 127.0.0.1 for breaking a link without killing either end:
 * a runner dials the proxy instead of the server, and the test cuts the
 * connection (`cut`), refuses new ones for a while (`pause`) and lets them
 * through again (`resume`). Bytes are forwarded untouched in both directions.
 */
import { createConnection, createServer, type Socket } from "node:net"

export interface TcpProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number
  /** `http://127.0.0.1:<port>`: a server URL that goes through the proxy. */
  readonly url: string
  /** Client connections currently forwarded. */
  readonly openConnections: number
  /** Client connections forwarded since the start. */
  readonly forwarded: number
  /** Client connections refused while paused. */
  readonly refused: number
  /** Destroys every current connection, both sides; returns how many there were. */
  cut(): number
  /** From now on new connections are reset at once (the listener stays up). */
  pause(): void
  /** New connections are forwarded again. */
  resume(): void
  /** New connections go to this port from now on (a load balancer picking another server); current ones stay. */
  retarget(port: number): void
  /** Cuts everything and stops listening. Idempotent. */
  close(): Promise<void>
}

/** Starts a proxy on 127.0.0.1:0 forwarding to `targetHost:targetPort`. */
export const startTcpProxy = (initialPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> =>
  new Promise((resolve, reject) => {
    let targetPort = initialPort
    const pairs = new Set<readonly [Socket, Socket]>()
    let paused = false
    let forwarded = 0
    let refused = 0

    const server = createServer((client) => {
      if (paused) {
        refused++
        client.on("error", () => {})
        client.resetAndDestroy()
        return
      }
      forwarded++
      const upstream = createConnection({ host: targetHost, port: targetPort })
      const pair = [client, upstream] as const
      pairs.add(pair)
      const teardown = () => {
        pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      client.on("error", teardown).on("close", teardown)
      upstream.on("error", teardown).on("close", teardown)
      client.pipe(upstream)
      upstream.pipe(client)
    })

    const cut = (): number => {
      const count = pairs.size
      for (const [client, upstream] of [...pairs]) {
        client.destroy()
        upstream.destroy()
      }
      pairs.clear()
      return count
    }

    let closing: Promise<void> | undefined
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      if (address === null || typeof address === "string") {
        reject(new Error("the proxy has no TCP address"))
        return
      }
      resolve({
        port: address.port,
        url: `http://127.0.0.1:${address.port}`,
        get openConnections() {
          return pairs.size
        },
        get forwarded() {
          return forwarded
        },
        get refused() {
          return refused
        },
        cut,
        pause: () => {
          paused = true
        },
        resume: () => {
          paused = false
        },
        retarget: (port) => {
          targetPort = port
        },
        close: () =>
          (closing ??= new Promise<void>((done) => {
            paused = true
            server.close(() => done())
            cut()
          }))
      })
    })
  })
