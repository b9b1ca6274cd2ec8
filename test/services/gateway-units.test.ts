/**
 * The gateway's pure parts and the master key: AES-GCM sealing, the key file
 * (created 0600 once, reused, refused when others can read it), model globs,
 * base URLs, model discovery parsing and the usage meter (whatever the chunk
 * boundaries).
 */
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import fc from "fast-check"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { globMatches, modelAllowed } from "../../src/domain/model-glob.js"
import { normalizeBaseUrl } from "../../src/domain/provider.js"
import { jsonMeter, sseMeter } from "../../src/services/gateway/usage-meter.js"
import { TetherHome } from "../../src/services/home/TetherHome.js"
import { open, parseMasterKey, seal } from "../../src/services/master-key/cipher.js"
import { MASTER_KEY_FILE, MasterKey } from "../../src/services/master-key/MasterKey.js"
import { parseModelList } from "../../src/services/providers/discovery.js"
import { tempDir } from "../support/databases.js"

const KEY = new Uint8Array(32).fill(1)
const OTHER = new Uint8Array(32).fill(2)

describe("sealing secrets (AES-256-GCM)", () => {
  it.prop("opens what it sealed, only with the same key and associated data", [fc.string(), fc.string({ minLength: 1 })], ([secret, where]) => {
    const sealed = seal(KEY, secret, where)
    assert.match(sealed, /^v1\./)
    assert.strictEqual(Either.getOrThrow(open(KEY, sealed, where)), secret)
    assert.isTrue(Either.isLeft(open(OTHER, sealed, where)))
    assert.isTrue(Either.isLeft(open(KEY, sealed, `${where}x`)))
  })

  it("never repeats a ciphertext and detects tampering", () => {
    const a = seal(KEY, "sk-same", "p")
    assert.notStrictEqual(seal(KEY, "sk-same", "p"), a)
    const bytes = Buffer.from(a.slice(3), "base64")
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1
    assert.isTrue(Either.isLeft(open(KEY, `v1.${bytes.toString("base64")}`, "p")))
    assert.isTrue(Either.isLeft(open(KEY, "v2.abc", "p")))
    assert.isTrue(Either.isLeft(open(KEY, "v1.", "p")))
  })

  it("parses master keys as hex or base64 of 32 bytes, nothing else", () => {
    assert.isTrue(Either.isRight(parseMasterKey("ab".repeat(32))))
    assert.isTrue(Either.isRight(parseMasterKey(Buffer.alloc(32, 9).toString("base64"))))
    for (const bad of ["", "short", "ab".repeat(31), Buffer.alloc(16).toString("base64")]) {
      assert.isTrue(Either.isLeft(parseMasterKey(bad)), bad)
    }
  })
})

describe("MasterKey", () => {
  const build = (home: string, env: ReadonlyArray<readonly [string, string]> = []) =>
    Layer.build(MasterKey.Default.pipe(Layer.provide(TetherHome.fixed(home)))).pipe(
      Effect.map((context) => Context.get(context, MasterKey)),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env)))
    )

  it.scopedLive("creates master.key (0600) on first use only, and reuses it", () =>
    Effect.gen(function*() {
      const home = yield* tempDir()
      const file = NodePath.join(home, MASTER_KEY_FILE)
      const first = yield* build(home)
      assert.isFalse(NodeFs.existsSync(file), "not created before it is needed")
      const sealed = yield* first.seal(Redacted.make("sk-1"), "p")
      assert.strictEqual(NodeFs.statSync(file).mode & 0o777, 0o600)
      const second = yield* build(home)
      assert.strictEqual(Redacted.value(yield* second.open(sealed, "p")), "sk-1")
      NodeFs.chmodSync(file, 0o644)
      const third = yield* build(home)
      const refused = yield* Effect.flip(third.open(sealed, "p"))
      assert.strictEqual(refused._tag, "MasterKeyUnavailable")
      assert.include(refused.message, "chmod 600")
    }))

  it.scopedLive("TETHER_MASTER_KEY wins over the file; a bad one is a clear error; another key cannot open", () =>
    Effect.gen(function*() {
      const home = yield* tempDir()
      const fromEnv = yield* build(home, [["TETHER_MASTER_KEY", "cd".repeat(32)]])
      const sealed = yield* fromEnv.seal(Redacted.make("sk-2"), "p")
      assert.isFalse(NodeFs.existsSync(NodePath.join(home, MASTER_KEY_FILE)))
      const fromFile = yield* build(home)
      const mismatch = yield* Effect.flip(fromFile.open(sealed, "p"))
      assert.strictEqual(mismatch._tag, "SealedValueUnreadable")
      const bad = yield* build(home, [["TETHER_MASTER_KEY", "nope"]])
      const error = yield* Effect.flip(bad.seal(Redacted.make("x"), "p"))
      assert.include(error.message, "TETHER_MASTER_KEY")
    }))
})

describe("model globs", () => {
  it("match whole ids with * and ?", () => {
    assert.isTrue(globMatches("openai/*", "openai/gpt-4o"))
    assert.isTrue(globMatches("*", "a/b/c"))
    assert.isTrue(globMatches("*/gpt-4?", "x/gpt-4o"))
    assert.isFalse(globMatches("openai/*", "anthropic/claude"))
    assert.isFalse(globMatches("openai/gpt", "openai/gpt-4o"))
    assert.isFalse(globMatches("a.b/*", "axb/c"), "dots are literal")
    assert.isTrue(modelAllowed(null, "anything/at-all"))
    assert.isFalse(modelAllowed([], "p/m"))
    assert.isTrue(modelAllowed(["x/*", "p/m"], "p/m"))
    assert.isTrue(globMatches("a*b*c", "a-x-b-y-c"))
    assert.isFalse(globMatches("a*b*c", "a-x-b-y-d"))
    assert.isTrue(globMatches("**", ""))
  })

  it.prop("agree with the equivalent regular expression", [
    fc.stringOf(fc.constantFrom("a", "b", "/", "*", "?"), { maxLength: 8 }),
    fc.stringOf(fc.constantFrom("a", "b", "/"), { maxLength: 12 })
  ], ([glob, id]) => {
    const regexp = new RegExp(`^${glob.replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "s")
    assert.strictEqual(globMatches(glob, id), regexp.test(id), `${glob} vs ${id}`)
  })

  // A backtracking matcher would not finish this within the test's time limit; this one takes O(glob × id).
  it("answers inputs that make backtracking matchers explode", () => {
    assert.isFalse(globMatches("*a*a*a*a*a*a*a*a*a*a*c", `${"a".repeat(20_000)}b`))
  })
})

describe("provider base URLs and discovery answers", () => {
  it("normalises base URLs and refuses unusable ones", () => {
    assert.deepStrictEqual(normalizeBaseUrl("http://127.0.0.1:8080"), Either.right("http://127.0.0.1:8080/v1"))
    assert.deepStrictEqual(normalizeBaseUrl("https://openrouter.ai/api/v1/"), Either.right("https://openrouter.ai/api/v1"))
    for (const bad of ["nope", "ftp://x", "https://u:p@x/v1", "https://x/v1?a=1"]) {
      assert.isTrue(Either.isLeft(normalizeBaseUrl(bad)), bad)
    }
  })

  it("reads OpenAI, OpenRouter and Anthropic model lists", () => {
    const models = parseModelList({
      data: [
        { id: "gpt-4o", context_window: 128000, max_output_tokens: 16384 },
        { id: "or/model", context_length: 32000, top_provider: { max_completion_tokens: 4096 } },
        { id: "claude", type: "model", display_name: "Claude" },
        { id: "claude" },
        { id: 7 },
        "junk"
      ]
    })
    assert.deepStrictEqual(models?.map((m) => [m.id, m.contextWindow, m.maxOutputTokens]), [
      ["gpt-4o", 128000, 16384],
      ["or/model", 32000, 4096],
      ["claude", null, null]
    ])
    assert.isUndefined(parseModelList({ models: [] }))
  })
})

describe("usage meter", () => {
  const anthropicStream = [
    `event: message_start\ndata: {"type":"message_start","message":{"id":"m","usage":{"input_tokens":12,"output_tokens":1}}}\n\n`,
    `event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"usage is fine"}}\n\n`,
    `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":34}}\n\n`,
    `event: message_stop\ndata: {"type":"message_stop"}\n\n`
  ].join("")
  const chatStream = [
    `data: {"choices":[{"delta":{"content":"hi"}}]}\r\n\r\n`,
    `data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}\r\n\r\n`,
    `data: [DONE]\r\n\r\n`
  ].join("")
  const responsesStream =
    `event: response.completed\ndata: {"type":"response.completed","response":{"usage":{"input_tokens":8,"output_tokens":9}}}\n\n`

  const errorStreams: ReadonlyArray<readonly [string, string]> = [
    [`event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}\n\n`, "busy"],
    [`data: {"choices":[{"delta":{"content":"x"}}]}\n\ndata: {"error":{"message":"boom","type":"server_error"}}\n\n`, "boom"],
    [`data: {"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"failed hard"}}}\n\n`, "failed hard"]
  ]

  const feed = (text: string, cuts: ReadonlyArray<number>) => {
    const bytes = new TextEncoder().encode(text)
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
    const meter = sseMeter()
    let from = 0
    for (const point of [...points, bytes.length]) {
      meter.push(bytes.subarray(from, point))
      from = point
    }
    return meter.counts()
  }

  it.prop("reads each format's usage and in-stream errors however the stream is cut", [fc.array(fc.nat(), { maxLength: 12 })], ([cuts]) => {
    assert.deepStrictEqual(feed(anthropicStream, cuts), { inputTokens: 12, outputTokens: 34, error: null })
    assert.deepStrictEqual(feed(chatStream, cuts), { inputTokens: 3, outputTokens: 4, error: null })
    assert.deepStrictEqual(feed(responsesStream, cuts), { inputTokens: 8, outputTokens: 9, error: null })
    for (const [stream, message] of errorStreams) {
      assert.strictEqual(feed(stream, cuts).error, `in-stream error from the provider: ${message}`)
    }
  })

  it("reads usage from a JSON answer, and nothing from a stream without it (nor an error from text that says error)", () => {
    const meter = jsonMeter()
    const body = new TextEncoder().encode(JSON.stringify({ object: "chat.completion", usage: { prompt_tokens: 1, completion_tokens: 2 } }))
    meter.push(body.subarray(0, 10))
    meter.push(body.subarray(10))
    assert.deepStrictEqual(meter.counts(), { inputTokens: 1, outputTokens: 2, error: null })
    assert.deepStrictEqual(feed(`data: {"choices":[{"delta":{"content":"an \\"error\\" word"}}]}\n\n`, []), {
      inputTokens: null,
      outputTokens: null,
      error: null
    })
  })
})
