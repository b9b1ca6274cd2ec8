/** Peer addresses as Node reports them, and the loopback test. */

/** Strips the IPv4-mapped IPv6 form (`::ffff:127.0.0.1` → `127.0.0.1`). */
export const normalizePeer = (address: string): string => {
  const lower = address.trim().toLowerCase()
  return lower.startsWith("::ffff:") && lower.includes(".") ? lower.slice(7) : lower
}

/** 127.0.0.0/8 or ::1, nothing else (no LAN exception). */
export const isLoopback = (address: string): boolean => {
  const peer = normalizePeer(address)
  if (peer === "::1" || peer === "0:0:0:0:0:0:0:1") return true
  const octets = peer.split(".")
  return octets.length === 4 && octets[0] === "127" &&
    octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255)
}
