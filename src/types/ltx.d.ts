// The parts of ltx 3 (no bundled types) that sitegate uses: elements, their serialisation, and the SAX parser
// class the default Parser wraps.
declare module 'ltx' {
  export type Node = Element | string

  export class Element {
    constructor(name: string, attrs?: Record<string, string | number | undefined>)
    name: string
    parent: Element | null
    children: Node[]
    attrs: Record<string, string>
    is(name: string, xmlns?: string): boolean
    getName(): string
    getNS(): string | undefined
    getAttr(name: string): string | undefined
    getChild(name: string, xmlns?: string): Element | undefined
    getChildren(name: string, xmlns?: string): Element[]
    getChildElements(): Element[]
    getChildText(name: string, xmlns?: string): string | null
    getText(): string
    cnode(child: Element): Element
    c(name: string, attrs?: Record<string, string>): Element
    t(text: string): Element
    up(): Element
    root(): Element
    toString(): string
  }

  /** The streaming tokenizer behind Parser (`Parser.prototype.DefaultParser`). */
  export interface SaxParser {
    on(event: 'startElement', listener: (name: string, attrs: Record<string, string>) => void): this
    on(event: 'endElement', listener: (name: string, selfClosing: boolean) => void): this
    on(event: 'text', listener: (text: string) => void): this
    on(event: 'error', listener: (err: Error) => void): this
    write(data: string): void
    end(data?: string): void
  }

  export class Parser {
    constructor(options?: unknown)
    DefaultParser: new () => SaxParser
  }

  export function parse(text: string): Element
  export function createElement(
    name: string,
    attrs?: Record<string, string> | null,
    ...children: (Node | Node[])[]
  ): Element
  export function escapeXML(s: string): string
  export function escapeXMLText(s: string): string
  export function equal(a: Element, b: Element): boolean
}
