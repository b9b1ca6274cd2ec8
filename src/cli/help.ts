/**
 * Help text without @effect/cli's pretty-printer.
 *
 * The library turns a HelpDoc into text through @effect/printer, whose
 * Effect-based optimise and layout passes cost ~40 ms (plus garbage
 * collection) for the root help on every `tether --help`. `renderHelpDoc`
 * writes the same bytes directly: HelpDoc only uses hard line breaks and
 * indentation, so the layout never depends on the page width — except for a
 * description-list entry with nothing below its title, which the printer may
 * lay out on one line; such docs go to the library. test/cli/help.test.ts
 * checks the two agree for every command and for the whole root help.
 */
import type * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"
import * as Usage from "@effect/cli/Usage"
import * as Ansi from "@effect/printer-ansi/Ansi"

/** What the printer emits when the last style is popped (`Ansi.stringify` of no style). */
const RESET = "\u001b[0m"

/** True when the doc ends at least one line (so the printer can never lay it out flat). */
const breaksLine = (doc: HelpDoc.HelpDoc): boolean => {
  switch (doc._tag) {
    case "Empty":
      return false
    case "Header":
    case "Paragraph":
    case "DescriptionList":
      return true
    case "Enumeration":
      return doc.elements.some(breaksLine)
    case "Sequence":
      return breaksLine(doc.left) || breaksLine(doc.right)
  }
}

/** True when every description-list entry in the doc has a body that breaks a line. */
const layoutIsFixed = (doc: HelpDoc.HelpDoc): boolean => {
  switch (doc._tag) {
    case "Empty":
    case "Header":
    case "Paragraph":
      return true
    case "DescriptionList":
      return doc.definitions.every(([, body]) => breaksLine(body) && layoutIsFixed(body))
    case "Enumeration":
      return doc.elements.every(layoutIsFixed)
    case "Sequence":
      return layoutIsFixed(doc.left) && layoutIsFixed(doc.right)
  }
}

/**
 * The printer's output model: text and style changes on lines; a line's
 * indentation is written only if something follows it on that line.
 */
const makeWriter = () => {
  const out: Array<string> = []
  const styles: Array<Ansi.Ansi> = []
  let column = 0
  let pendingIndent = 0

  const flush = () => {
    if (pendingIndent > 0) out.push(" ".repeat(pendingIndent))
    pendingIndent = 0
  }
  return {
    column: () => column,
    text: (value: string) => {
      flush()
      out.push(value)
      column += value.length
    },
    line: (indent: number) => {
      out.push("\n")
      pendingIndent = indent
      column = indent
    },
    // Like the printer, the stack keeps each annotation as given and a pop
    // restores the annotation below, not the combination.
    push: (style: Ansi.Ansi) => {
      flush()
      const current = styles.at(-1)
      out.push(Ansi.stringify(current === undefined ? style : Ansi.combine(style, current)))
      styles.push(style)
    },
    pop: () => {
      flush()
      styles.pop()
      const below = styles.at(-1)
      out.push(below === undefined ? RESET : Ansi.stringify(below))
    },
    result: () => out.join("")
  }
}

type Writer = ReturnType<typeof makeWriter>

const writeStyled = (w: Writer, style: Ansi.Ansi, span: Span.Span) => {
  w.push(style)
  writeSpan(w, span)
  w.pop()
}

const writeSpan = (w: Writer, span: Span.Span): void => {
  switch (span._tag) {
    case "Text":
      return w.text(span.value)
    case "Sequence":
      writeSpan(w, span.left)
      return writeSpan(w, span.right)
    case "Highlight":
      return writeStyled(w, Ansi.color(span.color), span.value)
    case "Strong":
      return writeStyled(w, Ansi.bold, span.value)
    case "Weak":
      return writeStyled(w, Ansi.blackBright, span.value)
    case "URI":
      return writeStyled(w, Ansi.underlined, Span.text(span.value))
  }
}

/** `Doc.indent(body, 2)`: two spaces, and lines of the body indented to where those spaces end. */
const writeIndented = (w: Writer, body: (indent: number) => void) => {
  const indent = w.column() + 2
  w.text("  ")
  body(indent)
}

const writeDoc = (w: Writer, doc: HelpDoc.HelpDoc, indent: number): void => {
  switch (doc._tag) {
    case "Empty":
      return
    case "Header":
      writeStyled(w, Ansi.bold, doc.value)
      return w.line(indent)
    case "Paragraph":
      writeSpan(w, doc.value)
      return w.line(indent)
    case "DescriptionList":
      // Entries one per line; each: bold title, an empty line, the body indented by 2.
      return doc.definitions.forEach(([title, body], i) => {
        if (i > 0) w.line(indent)
        writeStyled(w, Ansi.bold, title)
        w.line(indent)
        w.line(indent)
        writeIndented(w, (inner) => writeDoc(w, body, inner))
      })
    case "Enumeration":
      return writeIndented(w, (inner) =>
        doc.elements.forEach((element, i) => {
          if (i > 0) w.line(inner)
          w.text("- ")
          writeDoc(w, element, inner)
        }))
    case "Sequence":
      writeDoc(w, doc.left, indent)
      w.line(indent)
      return writeDoc(w, doc.right, indent)
  }
}

/** The text `HelpDoc.toAnsiText` gives for the doc. */
export const renderHelpDoc = (doc: HelpDoc.HelpDoc): string => {
  if (!layoutIsFixed(doc)) return HelpDoc.toAnsiText(doc)
  const w = makeWriter()
  writeDoc(w, doc, 0)
  return w.result()
}

export interface AppInfo {
  readonly name: string
  readonly version: string
}

/**
 * The doc `Command.run` prints for `--help` on the root command (no summary,
 * no footer): banner, version, usage, then the command's own help.
 */
export const rootHelpDoc = <Name extends string, R, E, A>(
  command: Command.Command<Name, R, E, A>,
  app: AppInfo,
  config: CliConfig.CliConfig
): HelpDoc.HelpDoc => {
  const banner = HelpDoc.h1(Span.code(app.name))
  const header = HelpDoc.p(Span.spans([Span.text(`${app.name} ${app.version}`), Span.empty]))
  // Folded from the right like the library does (which lists several usages last first).
  const usages = Usage.enumerate(Command.getUsage(command), config).reduceRight<HelpDoc.HelpDoc>(
    (acc, span) => HelpDoc.sequence(acc, HelpDoc.p(Span.concat(Span.text("$ "), span))),
    HelpDoc.empty
  )
  return HelpDoc.blocks([
    banner,
    header,
    HelpDoc.sequence(HelpDoc.h1("USAGE"), usages),
    Command.getHelp(command, config)
  ])
}

/** Arguments (after the executable) that ask for the root help: none, `--help` or `-h`. */
export const isRootHelpRequest = (args: ReadonlyArray<string>): boolean =>
  args.length === 0 || (args.length === 1 && (args[0] === "--help" || args[0] === "-h"))
