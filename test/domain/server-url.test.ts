import { describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import { assert } from "vitest"
import { isContextName } from "../../src/domain/context-file.js"
import {
  contextNameFromServer,
  DEFAULT_PORT,
  InvalidServerAddress,
  parseServerAddress
} from "../../src/domain/server-url.js"

const ok = (input: string, port?: number): string => {
  const result = parseServerAddress(input, port === undefined ? {} : { port })
  if (Either.isLeft(result)) assert.fail(`expected ${input} to parse, got: ${result.left.message}`)
  return result.right
}

const rejected = (input: string, port?: number): InvalidServerAddress => {
  const result = parseServerAddress(input, port === undefined ? {} : { port })
  if (Either.isRight(result)) return assert.fail(`expected ${input} to be rejected, got ${result.right}`)
  return result.left
}

/** What WHATWG URL makes of a host (lower case, IPv6 compressed and bracketed …), or undefined if it is not one. */
const canonicalHost = (host: string): string | undefined => {
  try {
    return new URL(`http://${host}`).hostname
  } catch {
    return undefined
  }
}

const hostname = fc.domain().filter((d) => canonicalHost(d) === d)
const ipv4 = fc.ipV4()
const ipv6 = fc.ipV6().map((a) => `[${a}]`)
const anyHost = fc.oneof(hostname, ipv4, ipv6, fc.constant("localhost"))
const port = fc.integer({ min: 1, max: 65535 })
const segment = fc.stringMatching(/^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,11}$/)

describe("parseServerAddress", () => {
  describe("examples", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["example.com", "http://example.com:7337"],
      ["  Example.COM  ", "http://example.com:7337"],
      ["10.0.0.5", "http://10.0.0.5:7337"],
      ["[::1]", "http://[::1]:7337"],
      ["::1", "http://[::1]:7337"],
      ["fe80::1", "http://[fe80::1]:7337"],
      ["localhost", "http://localhost:7337"],
      ["localhost:7337", "http://localhost:7337"],
      ["example.com:8080", "http://example.com:8080"],
      ["[::1]:9000", "http://[::1]:9000"],
      ["example.com/tether/", "http://example.com:7337/tether"],
      ["http://example.com", "http://example.com"],
      ["http://example.com/", "http://example.com"],
      ["https://example.com", "https://example.com"],
      ["HTTPS://Tether.Example.com:8443/prefix/", "https://tether.example.com:8443/prefix"],
      ["https://example.com/a/b//", "https://example.com/a/b"],
      ["http://example.com:80", "http://example.com"],
      ["https://example.com:443/x", "https://example.com/x"],
      ["http://127.0.0.1:7337", "http://127.0.0.1:7337"]
    ]
    for (const [input, expected] of cases) {
      it(`${JSON.stringify(input)} → ${expected}`, () => {
        assert.strictEqual(ok(input), expected)
      })
    }

    it("--port sets the port of a bare host or of a URL without one", () => {
      assert.strictEqual(ok("example.com", 9000), "http://example.com:9000")
      assert.strictEqual(ok("[::1]", 9000), "http://[::1]:9000")
      assert.strictEqual(ok("https://example.com", 8443), "https://example.com:8443")
      assert.strictEqual(ok("example.com:9000", 9000), "http://example.com:9000")
    })

    const bad: ReadonlyArray<readonly [string, string]> = [
      ["", "empty"],
      ["   ", "empty"],
      ["ftp://example.com", "scheme"],
      ["ws://example.com", "scheme"],
      ["http://example.com/?a=1", "query"],
      ["http://example.com#top", "fragment"],
      ["example.com?x", "query"],
      ["http://user:pw@example.com", "credentials"],
      ["http://user@example.com", "credentials"],
      ["example.com:0", "port"],
      ["example.com:65536", "port"],
      ["example.com:http", "port"],
      ["example.com:", "port"],
      ["http://", "host"],
      ["http://:8080", "host"],
      ["exa mple.com", "spaces"],
      ["http:example.com", "http://"],
      ["http://exa%41mple.com", "host"],
      ["http://300.1.1.1", "host"],
      ["http://example.com\\x", "backslash"]
    ]
    for (const [input, mentions] of bad) {
      it(`rejects ${JSON.stringify(input)}`, () => {
        const error = rejected(input)
        assert.instanceOf(error, InvalidServerAddress)
        assert.strictEqual(error.input, input)
        assert.include(error.error, mentions)
      })
    }

    it("rejects a --port that conflicts with the address or is out of range", () => {
      assert.include(rejected("example.com:8080", 9000).error, "--port 9000")
      assert.include(rejected("https://example.com:8443", 9000).error, "--port 9000")
      assert.include(rejected("example.com", 0).error, "--port")
      assert.include(rejected("example.com", 70000).error, "--port")
      assert.include(rejected("example.com", 1.5).error, "--port")
    })
  })

  describe("properties", () => {
    it.prop("a bare host means http://HOST:7337", [anyHost], ([host]) => {
      assert.strictEqual(ok(host), `http://${canonicalHost(host)}:${DEFAULT_PORT}`)
    })

    it.prop("host:port is honoured", [anyHost, port.filter((p) => p !== 80)], ([host, p]) => {
      const parsed = new URL(ok(`${host}:${p}`))
      assert.strictEqual(parsed.protocol, "http:")
      assert.strictEqual(parsed.port, String(p))
      assert.strictEqual(parsed.hostname, canonicalHost(host))
    })

    it.prop("--port N is used for a bare host", [anyHost, port.filter((p) => p !== 80)], ([host, p]) => {
      assert.strictEqual(new URL(ok(host, p)).port, String(p))
    })

    it.prop(
      "a full URL round-trips: scheme, host, port and path prefix kept, trailing slash dropped",
      [
        fc.constantFrom("http", "https"),
        anyHost,
        fc.option(port),
        fc.array(segment, { maxLength: 4 }),
        fc.boolean()
      ],
      ([scheme, host, p, segments, trailingSlash]) => {
        const path = segments.length === 0 ? "" : `/${segments.join("/")}`
        const input = `${scheme}://${host}${p === null ? "" : `:${p}`}${path}${trailingSlash ? "/" : ""}`
        const defaultPort = scheme === "http" ? 80 : 443
        const expectedHost = new URL(`${scheme}://${host}`).host
        const expected = `${scheme}://${expectedHost}${p === null || p === defaultPort ? "" : `:${p}`}${path}`
        assert.strictEqual(ok(input), expected)
      }
    )

    it.prop("normalising is idempotent", [fc.oneof(fc.webUrl(), anyHost, fc.string())], ([input]) => {
      const first = parseServerAddress(input)
      if (Either.isRight(first)) assert.deepStrictEqual(parseServerAddress(first.right), first)
    })

    it.prop(
      "never throws, on anything",
      [fc.oneof(fc.string(), fc.fullUnicodeString(), fc.webUrl({ withQueryParameters: true, withFragments: true })), fc.option(fc.integer())],
      ([input, p]) => {
        const result = parseServerAddress(input, p === null ? {} : { port: p })
        if (Either.isRight(result)) {
          assert.match(result.right, /^https?:\/\/[^/?#@\s]+(\/[^?#\s]*[^/?#\s])?$/)
        } else {
          assert.instanceOf(result.left, InvalidServerAddress)
        }
      },
      { fastCheck: { numRuns: 500 } }
    )
  })
})

describe("contextNameFromServer", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["tether.example.com", "tether-example-com"],
    ["http://tether.example.com:8080/x", "tether-example-com"],
    ["127.0.0.1", "127-0-0-1"],
    ["localhost", "localhost"],
    ["[::1]", "ipv6-1"],
    ["[fe80::1]:9000", "ipv6-fe80-1"],
    ["https://Tether.Example.com./", "tether-example-com"]
  ]
  for (const [input, expected] of cases) {
    it(`${input} → ${expected}`, () => {
      assert.strictEqual(contextNameFromServer(input), expected)
    })
  }

  it.prop("always a valid context name", [fc.oneof(anyHost, fc.webUrl(), fc.string())], ([input]) => {
    assert.isTrue(isContextName(contextNameFromServer(input)))
  })
})

describe("webSocketUrl", () => {
  it("maps http(s) to ws(s), keeps a path prefix, drops credentials, query and fragment", async () => {
    const { webSocketUrl } = await import("../../src/domain/server-url.js")
    assert.strictEqual(webSocketUrl("http://127.0.0.1:7337", "/v1/x"), "ws://127.0.0.1:7337/v1/x")
    assert.strictEqual(webSocketUrl("https://u:p@t.example.com/base/?token=x#f", "/v1/sessions/s/terminal"), "wss://t.example.com/base/v1/sessions/s/terminal")
    assert.strictEqual(webSocketUrl("wss://t.example.com", "/v1/x"), "wss://t.example.com/v1/x")
    assert.throws(() => webSocketUrl("ftp://t.example.com", "/v1/x"), /unsupported server URL scheme/)
  })
})
