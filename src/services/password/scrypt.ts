/**
 * Slow password hashing with scrypt. The stored form is self-describing so
 * the parameters can be raised later without breaking old hashes:
 *
 *   scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>
 */
import * as Effect from "effect/Effect"
import * as NodeCrypto from "node:crypto"

const LOG_N = 15
const R = 8
const P = 1
const KEY_LENGTH = 32
const maxmem = (logN: number, r: number) => 256 * 2 ** logN * r

const derive = (password: string, salt: Buffer, logN: number, r: number, p: number): Effect.Effect<Buffer> =>
  Effect.async<Buffer>((resume) => {
    NodeCrypto.scrypt(password, salt, KEY_LENGTH, { N: 2 ** logN, r, p, maxmem: maxmem(logN, r) }, (err, key) => {
      resume(err ? Effect.die(err) : Effect.succeed(key))
    })
  })

export const hashPassword = (password: string): Effect.Effect<string> =>
  Effect.gen(function*() {
    const salt = NodeCrypto.randomBytes(16)
    const key = yield* derive(password, salt, LOG_N, R, P)
    return ["scrypt", LOG_N, R, P, salt.toString("base64"), key.toString("base64")].join("$")
  })

/** False for a wrong password and for a stored value that is not a hash we understand. */
export const verifyPassword = (password: string, stored: string): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const parts = stored.split("$")
    if (parts.length !== 6 || parts[0] !== "scrypt") return false
    const [logN, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
    if (![logN, r, p].every((n) => Number.isInteger(n) && n > 0) || logN > 20) return false
    const expected = Buffer.from(parts[5] as string, "base64")
    if (expected.length !== KEY_LENGTH) return false
    const key = yield* derive(password, Buffer.from(parts[4] as string, "base64"), logN, r, p)
    return NodeCrypto.timingSafeEqual(key, expected)
  })
