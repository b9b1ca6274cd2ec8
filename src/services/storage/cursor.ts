/**
 * Keyset pagination cursors: an opaque base64url of `<epoch ms>:<id>`, the
 * position of the last row of a page in (time desc, id desc) order.
 */
export interface KeysetPosition {
  readonly at: number
  readonly id: string
}

export const encodeCursor = (position: KeysetPosition): string =>
  Buffer.from(`${position.at}:${position.id}`, "utf8").toString("base64url")

/** Undefined for anything this server did not hand out. */
export const decodeCursor = (cursor: string): KeysetPosition | undefined => {
  const text = Buffer.from(cursor, "base64url").toString("utf8")
  const sep = text.indexOf(":")
  const at = Number(text.slice(0, sep))
  const id = text.slice(sep + 1)
  return sep > 0 && Number.isSafeInteger(at) && id.length > 0 ? { at, id } : undefined
}
