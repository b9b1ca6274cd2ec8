/**
 * Keeps xterm.js working under a strict `style-src 'self'` policy.
 *
 * xterm's DOM renderer writes its dynamic rules (colours, row heights,
 * cursor blink) into `<style>` elements it creates, and the browser refuses
 * to apply inline style elements under our Content-Security-Policy. This
 * mirrors every `<style>` element inside `root` into a constructed stylesheet
 * (`document.adoptedStyleSheets`), which the policy does not block, and keeps
 * it in sync as xterm rewrites or removes them. Returns a function that stops
 * mirroring and removes the sheets.
 */
export const bridgeInlineStyles = (root: HTMLElement): (() => void) => {
  const sheets = new Map<HTMLStyleElement, CSSStyleSheet>()

  const sync = (): void => {
    const present = new Set<HTMLStyleElement>()
    const elements = root.querySelectorAll("style")
    for (let i = 0; i < elements.length; i++) {
      const element = elements[i] as HTMLStyleElement
      present.add(element)
      let sheet = sheets.get(element)
      if (sheet === undefined) {
        sheet = new CSSStyleSheet()
        sheets.set(element, sheet)
        document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet]
      }
      sheet.replaceSync(element.textContent ?? "")
    }
    for (const [element, sheet] of sheets) {
      if (present.has(element)) continue
      sheets.delete(element)
      document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet)
    }
  }

  const observer = new MutationObserver(sync)
  observer.observe(root, { subtree: true, childList: true, characterData: true })
  sync()
  return () => {
    observer.disconnect()
    const removed = new Set(sheets.values())
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => !removed.has(s))
    sheets.clear()
  }
}
