/** Small shared pieces of the UI: status pills, relative times, error boxes, link buttons. */
import type { ComponentChildren } from "preact"
import { linkTo } from "./router.js"

export const timeAgo = (iso: string | null | undefined): string => {
  if (iso === null || iso === undefined) return "never"
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000)
  if (!Number.isFinite(seconds)) return "—"
  if (seconds < 5) return "just now"
  if (seconds < 60) return `${seconds} s ago`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`
  return `${Math.floor(seconds / 86_400)} d ago`
}

const STATUS_TONE: Record<string, string> = {
  running: "pill-ok",
  idle: "pill-info",
  waiting_approval: "pill-warn",
  waiting_host: "pill-warn",
  exited: "pill-muted",
  failed: "pill-bad",
  active: "pill-ok",
  expired: "pill-muted",
  revoked: "pill-bad",
  online: "pill-ok",
  offline: "pill-muted",
  success: "pill-ok",
  failure: "pill-bad"
}

export const StatusPill = ({ status }: { readonly status: string }) => (
  <span class={`pill ${STATUS_TONE[status] ?? "pill-muted"}`} data-status={status}>{status.replace("_", " ")}</span>
)

export const ErrorBox = ({ error }: { readonly error: string | null }) =>
  error === null ? null : <p class="error" role="alert">{error}</p>

export const Link = (props: { readonly href: string; readonly class?: string; readonly children: ComponentChildren }) => (
  <a href={props.href} class={props.class} onClick={linkTo(props.href)}>{props.children}</a>
)

export const Empty = ({ children }: { readonly children: ComponentChildren }) => <p class="empty">{children}</p>

export const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)
