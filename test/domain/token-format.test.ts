import { describe, it } from "@effect/vitest"
import { assert } from "@effect/vitest"
import * as Either from "effect/Either"
import fc from "fast-check"
import * as NodeZlib from "node:zlib"
import {
  base62FromBytes,
  checksumOf,
  crc32,
  formatToken,
  maskSecret,
  parseToken,
  RANDOM_LENGTH,
  type TokenKind
} from "../../src/domain/token-format.js"
import { generateToken } from "../../src/services/tokens/secret.js"

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
const base62Char = fc.constantFrom(...BASE62.split(""))
const randomPart = fc.string({ unit: base62Char, minLength: RANDOM_LENGTH, maxLength: RANDOM_LENGTH })
const kind = fc.constantFrom<TokenKind>("access", "inference")

describe("token format", () => {
  it.prop("crc32 agrees with zlib's CRC-32", [fc.string({ unit: "binary-ascii" })], ([text]) => {
    assert.strictEqual(crc32(text), NodeZlib.crc32(Buffer.from(text, "latin1")))
  })

  it.prop("a formatted token parses back to its parts", [kind, randomPart], ([k, random]) => {
    const token = formatToken(k, random)
    assert.strictEqual(token.length, 4 + 32 + 6)
    assert.match(token, k === "access" ? /^tat_[0-9A-Za-z]{38}$/ : /^tsk_[0-9A-Za-z]{38}$/)
    const parsed = parseToken(token, k)
    assert.isTrue(Either.isRight(parsed))
    if (Either.isRight(parsed)) {
      assert.strictEqual(parsed.right.random, random)
      assert.strictEqual(parsed.right.displayPrefix, token.slice(0, 10))
    }
  })

  it.prop("changing any one character of the random part breaks the checksum", [
    kind,
    randomPart,
    fc.nat({ max: RANDOM_LENGTH - 1 }),
    base62Char
  ], ([k, random, index, replacement]) => {
    fc.pre(random[index] !== replacement)
    const token = formatToken(k, random)
    const typo = token.slice(0, 4 + index) + replacement + token.slice(5 + index)
    const parsed = parseToken(typo, k)
    assert.isTrue(Either.isLeft(parsed))
    if (Either.isLeft(parsed)) assert.strictEqual(parsed.left.reason, "bad_checksum")
  })

  it.prop("an access token is never accepted as an inference key, nor the reverse", [randomPart], ([random]) => {
    const access = parseToken(formatToken("access", random), "inference")
    const inference = parseToken(formatToken("inference", random), "access")
    assert.isTrue(Either.isLeft(access) && access.left.reason === "wrong_kind")
    assert.isTrue(Either.isLeft(inference) && inference.left.reason === "wrong_kind")
  })

  it.prop("parsing arbitrary text never throws and accepts only checksummed tokens", [fc.string()], ([text]) => {
    const parsed = parseToken(text, "access")
    if (Either.isRight(parsed)) {
      assert.strictEqual(checksumOf(parsed.right.random), parsed.right.token.slice(-6))
    }
  })

  it.prop("truncated or extended tokens are malformed", [randomPart, fc.integer({ min: 1, max: 5 })], ([random, cut]) => {
    const token = formatToken("access", random)
    for (const candidate of [token.slice(0, -cut), token + "a".repeat(cut)]) {
      const parsed = parseToken(candidate, "access")
      assert.isTrue(Either.isLeft(parsed) && parsed.left.reason === "malformed")
    }
  })

  it.prop("base62FromBytes is unbiased by rejection: only bytes < 248 are used", [
    fc.uint8Array({ minLength: 64, maxLength: 128 })
  ], ([bytes]) => {
    const usable = Array.from(bytes).filter((b) => b < 248)
    const out = base62FromBytes(bytes, 16)
    if (usable.length < 16) assert.isUndefined(out)
    else assert.strictEqual(out, usable.slice(0, 16).map((b) => BASE62[b % 62]).join(""))
  })

  it("generated tokens are valid, distinct and use the whole alphabet", () => {
    const seen = new Set<string>()
    const chars = new Set<string>()
    for (let i = 0; i < 500; i++) {
      const token = generateToken("access")
      assert.isTrue(Either.isRight(parseToken(token, "access")))
      seen.add(token)
      for (const c of token.slice(4, 36)) chars.add(c)
    }
    assert.strictEqual(seen.size, 500)
    assert.strictEqual(chars.size, 62)
  })

  it("maskSecret shows only the display prefix", () => {
    const token = generateToken("inference")
    assert.strictEqual(maskSecret(token), `${token.slice(0, 10)}…`)
    assert.notInclude(maskSecret(token), token.slice(10))
  })
})
