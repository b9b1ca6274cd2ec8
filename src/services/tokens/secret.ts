/** CSPRNG-backed secrets and their stored form. */
import * as NodeCrypto from "node:crypto"
import { base62FromBytes, formatToken, RANDOM_LENGTH, type TokenKind } from "../../domain/token-format.js"

/** `count` uniformly random base62 characters from the OS CSPRNG. */
export const randomBase62 = (count: number): string => {
  for (;;) {
    const chars = base62FromBytes(NodeCrypto.randomBytes(count + 16), count)
    if (chars !== undefined) return chars
  }
}

export const generateToken = (kind: TokenKind): string => formatToken(kind, randomBase62(RANDOM_LENGTH))

/** What the database keeps instead of the token: its SHA-256, hex. */
export const hashToken = (token: string): string => NodeCrypto.createHash("sha256").update(token, "utf8").digest("hex")

/** Short random identifiers for rows (not secrets). */
export const newId = (prefix: string): string => `${prefix}_${randomBase62(16)}`
