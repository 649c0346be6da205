// A strict reader for one XML element given as a string (the call API's `message`, rpc-and-calls.md B.4).
// ltx's own `parse` is lenient: it returns the first of two root elements, ignores a mismatched end tag and
// drops trailing text. This reader drives ltx's tokenizer (the one @xmpp uses on the wire) and refuses all of
// those, DTDs (entity expansion), and characters XML 1.0 does not allow — what it returns can be rebuilt and
// sent on an XMPP stream without breaking it.
import { Element, Parser, type SaxParser } from 'ltx'

export class XmlError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'XmlError'
  }
}

/** XML 1.0 §2.2 Char, minus the C0 controls other than tab, line feed and carriage return. */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u
/** An element name without a namespace prefix (the stanza uses default namespaces only). */
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/

const SaxLtx = Parser.prototype.DefaultParser

/** Parses `text` as exactly one element (an XML declaration, comments and surrounding whitespace allowed). */
export function readOneElement(text: string, maxDepth = 8): Element {
  if (NOT_XML_CHAR.test(text)) throw new XmlError('contains characters XML does not allow')
  // A DTD can define entities (billion laughs) and is never part of a stanza (RFC 6120 §11.1).
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new XmlError('a DTD is not allowed')
  const sax: SaxParser = new SaxLtx()
  let root: Element | undefined
  let open: Element | undefined
  let failure: string | undefined
  const fail = (message: string) => {
    failure ??= message
  }
  sax.on('startElement', (name, attrs) => {
    if (failure) return
    if (!PLAIN_NAME.test(name)) return fail(`element name "${name}" is not allowed`)
    if (!open && root) return fail('more than one element: give exactly one <message>')
    const element = new Element(name, attrs)
    let depth = 1
    for (let p: Element | null | undefined = open; p; p = p.parent) depth++
    if (depth > maxDepth) return fail('elements are nested too deeply')
    if (open) open.cnode(element)
    else root = element
    open = element
  })
  sax.on('endElement', (name) => {
    if (failure) return
    if (!open || open.name !== name) return fail(`end tag </${name}> does not match`)
    open = open.parent === null ? undefined : open.parent
  })
  sax.on('text', (chunk) => {
    if (failure) return
    if (open) open.t(chunk)
    else if (chunk.trim() !== '') fail('text outside the element')
  })
  sax.on('error', (err) => fail(err.message))
  try {
    sax.write(text)
    sax.end()
  } catch (err) {
    // The tokenizer throws on an unknown entity or an illegal character reference.
    fail((err as Error).message)
  }
  if (failure) throw new XmlError(failure)
  if (!root) throw new XmlError('no element found: not XML')
  if (open) throw new XmlError(`element <${open.name}> is not closed`)
  // The tokenizer does not notice an unterminated tag or attribute at the very end.
  if (!/>\s*$/.test(text.replace(/<!--[\s\S]*?-->\s*$/, ''))) throw new XmlError('text after the element')
  return root
}
