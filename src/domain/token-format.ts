/**
 * Secret token format, shared by management access tokens (`tat_`) and
 * inference keys (`tsk_`):
 *
 *   <kind>_<32 base62 chars of CSPRNG output><6 base62 chars: CRC32 of the random part>
 *
 * The checksum lets the CLI and secret scanners reject a mistyped or foreign
 * token without asking the server. Pure code: no I/O, no randomness source of
 * its own (callers pass random bytes).
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"

export type TokenKind = "access" | "inference"

export const tokenPrefix: Record<TokenKind, string> = { access: "tat_", inference: "tsk_" }

export const RANDOM_LENGTH = 32
export const CHECKSUM_LENGTH = 6
export const TOKEN_BODY_LENGTH = RANDOM_LENGTH + CHECKSUM_LENGTH
/** Characters of a token shown when it is displayed masked (prefix + 6). */
export const DISPLAY_PREFIX_LENGTH = 4 + 6

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
const BASE62_RE = /^[0-9A-Za-z]*$/

const CRC_TABLE: ReadonlyArray<number> = (() => {
  const table: Array<number> = []
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table.push(c >>> 0)
  }
  return table
})()

/** CRC-32 (IEEE 802.3) of the UTF-8 bytes of an ASCII string. */
export const crc32 = (text: string): number => {
  let crc = 0xffffffff
  for (let i = 0; i < text.length; i++) {
    crc = (CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8)
  }
  return (crc ^ 0xffffffff) >>> 0
}

/** Fixed-width base62 encoding of a non-negative integer (left-padded with '0'). */
export const base62Fixed = (value: number, width: number): string => {
  let out = ""
  let v = value
  while (v > 0) {
    out = BASE62[v % 62] + out
    v = Math.floor(v / 62)
  }
  return out.padStart(width, "0")
}

export const checksumOf = (random: string): string => base62Fixed(crc32(random), CHECKSUM_LENGTH)

/**
 * Turns CSPRNG bytes into `count` uniformly distributed base62 characters by
 * rejection sampling (bytes ≥ 248 are discarded so `byte % 62` is unbiased).
 * Returns undefined when the bytes ran out; callers then ask for more.
 */
export const base62FromBytes = (bytes: Uint8Array, count: number): string | undefined => {
  let out = ""
  for (const byte of bytes) {
    if (byte >= 248) continue
    out += BASE62[byte % 62]
    if (out.length === count) return out
  }
  return undefined
}

/** Assembles a token from its random part. */
export const formatToken = (kind: TokenKind, random: string): string => tokenPrefix[kind] + random + checksumOf(random)

export class TokenFormatError extends Data.TaggedError("TokenFormatError")<{
  readonly reason: "wrong_kind" | "malformed" | "bad_checksum"
  readonly message: string
}> {}

export interface ParsedToken {
  readonly kind: TokenKind
  readonly token: string
  readonly random: string
  /** Safe to show and store in clear: the kind prefix plus the first 6 random characters. */
  readonly displayPrefix: string
}

/** Validates a token offline: kind, length, alphabet and checksum. */
export const parseToken = (input: string, expected: TokenKind): Either.Either<ParsedToken, TokenFormatError> => {
  const token = input.trim()
  const wanted = tokenPrefix[expected]
  if (!token.startsWith(wanted)) {
    const other = (Object.keys(tokenPrefix) as Array<TokenKind>).find((k) => token.startsWith(tokenPrefix[k]))
    return Either.left(
      new TokenFormatError({
        reason: other ? "wrong_kind" : "malformed",
        message: other
          ? `expected ${describeKind(expected)} (${wanted}…) but got ${describeKind(other)} (${tokenPrefix[other]}…)`
          : `not a Tether ${describeKind(expected)}: it must start with ${wanted}`
      })
    )
  }
  const body = token.slice(wanted.length)
  if (body.length !== TOKEN_BODY_LENGTH || !BASE62_RE.test(body)) {
    return Either.left(
      new TokenFormatError({
        reason: "malformed",
        message: `malformed ${describeKind(expected)}: expected ${wanted} followed by ${TOKEN_BODY_LENGTH} letters and digits`
      })
    )
  }
  const random = body.slice(0, RANDOM_LENGTH)
  if (checksumOf(random) !== body.slice(RANDOM_LENGTH)) {
    return Either.left(
      new TokenFormatError({
        reason: "bad_checksum",
        message: `${describeKind(expected)} checksum does not match: the token was mistyped or truncated`
      })
    )
  }
  return Either.right({ kind: expected, token, random, displayPrefix: token.slice(0, DISPLAY_PREFIX_LENGTH) })
}

export const describeKind = (kind: TokenKind): string => (kind === "access" ? "access token" : "inference key")

/** A token as it may appear in any output: its display prefix and an ellipsis. */
export const maskSecret = (secret: string): string =>
  secret.length <= DISPLAY_PREFIX_LENGTH ? "…" : `${secret.slice(0, DISPLAY_PREFIX_LENGTH)}…`
