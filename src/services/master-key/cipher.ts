/**
 * AES-256-GCM sealing of short secrets (provider API keys) under a 32-byte
 * master key. A sealed value is `v1.` followed by base64 of
 * `iv (12 bytes) | tag (16 bytes) | ciphertext`. The associated data binds a
 * sealed value to where it is stored (e.g. the provider's name), so a
 * ciphertext copied to another row does not open. Pure apart from the random IV.
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as NodeCrypto from "node:crypto"

export const MASTER_KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
const VERSION = "v1."

/** A sealed value did not open: wrong master key, other associated data, or corrupted. */
export class SealedValueUnreadable extends Data.TaggedError("SealedValueUnreadable")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

export const seal = (key: Uint8Array, plaintext: string, associatedData: string): string => {
  const iv = NodeCrypto.randomBytes(IV_BYTES)
  const cipher = NodeCrypto.createCipheriv("aes-256-gcm", key, iv)
  cipher.setAAD(Buffer.from(associatedData, "utf8"))
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
  return VERSION + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString("base64")
}

export const open = (
  key: Uint8Array,
  sealed: string,
  associatedData: string
): Either.Either<string, SealedValueUnreadable> => {
  if (!sealed.startsWith(VERSION)) {
    return Either.left(new SealedValueUnreadable({ reason: "not a sealed value of a known version" }))
  }
  const bytes = Buffer.from(sealed.slice(VERSION.length), "base64")
  if (bytes.length < IV_BYTES + TAG_BYTES) return Either.left(new SealedValueUnreadable({ reason: "sealed value is truncated" }))
  try {
    const decipher = NodeCrypto.createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES))
    decipher.setAAD(Buffer.from(associatedData, "utf8"))
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
    const plaintext = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()])
    return Either.right(plaintext.toString("utf8"))
  } catch {
    return Either.left(
      new SealedValueUnreadable({
        reason: "the stored secret does not decrypt with this server's master key (was TETHER_MASTER_KEY or master.key changed?)"
      })
    )
  }
}

/** A master key from text: 64 hex digits or base64 of 32 bytes. */
export const parseMasterKey = (text: string): Either.Either<Uint8Array, string> => {
  const trimmed = text.trim()
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Either.right(Buffer.from(trimmed, "hex"))
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed.replace(/-/g, "+").replace(/_/g, "/"), "base64")
    if (bytes.length === MASTER_KEY_BYTES) return Either.right(bytes)
  }
  return Either.left(`a master key is 32 bytes written as 64 hex digits or base64 (e.g. \`openssl rand -base64 32\`)`)
}

export const generateMasterKey = (): Uint8Array => NodeCrypto.randomBytes(MASTER_KEY_BYTES)
