/** The dialog that shows a new secret (access token, inference key) exactly once, with a Copy button. */
import { useState } from "preact/hooks"

export const CopyOnce = ({ title, secret, onClose }: { readonly title: string; readonly secret: string; readonly onClose: () => void }) => {
  const [copied, setCopied] = useState<boolean | null>(null)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret)
      setCopied(true)
    } catch {
      setCopied(false)
    }
  }
  return (
    <div class="dialog-backdrop">
      <div class="dialog card" role="dialog" aria-modal="true" aria-labelledby="copy-once-title">
        <h2 id="copy-once-title">{title}</h2>
        <p>Copy it now: it is shown only once and cannot be recovered.</p>
        <input class="secret" readOnly value={secret} data-testid="new-token" onFocus={(e) => e.currentTarget.select()} />
        {copied === false ? <p class="hint">Copying is blocked here: select the text and copy it by hand.</p> : null}
        <div class="actions">
          <button type="button" class="button" onClick={() => void copy()}>{copied === true ? "Copied" : "Copy"}</button>
          <button type="button" class="button secondary" onClick={onClose}>Done</button>
        </div>
      </div>
    </div>
  )
}
