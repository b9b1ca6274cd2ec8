/** The API's JSON shapes the UI reads (see src/domain; dates arrive as ISO strings). */
export type SessionStatus = "idle" | "running" | "waiting_approval" | "waiting_host" | "exited" | "failed"

export interface PendingApproval {
  readonly requestId: string
  readonly tool: string
  readonly input: unknown
  readonly description: string | null
  readonly seq: number
}

export interface Session {
  readonly id: string
  readonly title: string | null
  readonly harness: string
  readonly hostId: string
  readonly hostName: string
  readonly hostOnline: boolean
  readonly cwd: string
  readonly args: ReadonlyArray<string>
  readonly status: SessionStatus
  readonly statusReason: string | null
  readonly exitCode: number | null
  readonly archived: boolean
  readonly createdAt: string
  readonly updatedAt: string
  readonly lastSeq: number
  readonly pendingApprovals: ReadonlyArray<PendingApproval>
  readonly queuedInputs: ReadonlyArray<{ readonly id: string; readonly kind: string; readonly text: string | null }>
}

export interface HarnessInfo {
  readonly name: string
  readonly capabilities: ReadonlyArray<string>
  readonly ready: boolean
  readonly detail: string | null
}

export interface HostInfo {
  readonly id: string
  readonly name: string
  readonly online: boolean
  readonly lastSeenAt: string | null
  readonly version: string | null
  readonly harnesses: ReadonlyArray<HarnessInfo>
}

export interface TokenInfo {
  readonly id: string
  readonly name: string
  readonly prefix: string
  readonly scope: "read" | "write" | "admin"
  readonly status: "active" | "expired" | "revoked"
  readonly createdAt: string
  readonly lastUsedAt: string | null
  readonly expiresAt: string | null
  readonly revokedAt: string | null
  readonly createdBy: string
}

export interface AuditEntry {
  readonly id: string
  readonly at: string
  readonly action: string
  readonly actor: string
  readonly peer: string | null
  readonly outcome: "success" | "failure"
  readonly detail: string | null
}

export const SESSION_STATUSES: ReadonlyArray<SessionStatus> = ["idle", "running", "waiting_approval", "waiting_host", "exited", "failed"]
