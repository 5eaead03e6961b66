// D-Bus introspection XML → plain member descriptions. The daemon builds its exported interfaces
// from dbus/net.rovy.Rovy1.xml through this module, and the tests parse `busctl introspect`
// output with it to check that what runs is what the contract says.
//
// Introspection XML is a tiny subset of XML (elements, attributes, comments, a DOCTYPE), so a
// small parser here keeps us off a general XML library (dbus-next's xml2js carries an advisory).
import { readFileSync } from 'node:fs';

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

export interface ArgSpec {
  name: string;
  type: string;
  direction: 'in' | 'out';
}
export interface MethodSpec {
  name: string;
  args: ArgSpec[];
  annotations: Record<string, string>;
}
export interface PropertySpec {
  name: string;
  type: string;
  access: 'read' | 'write' | 'readwrite';
  annotations: Record<string, string>;
}
export interface SignalSpec {
  name: string;
  args: { name: string; type: string }[];
  annotations: Record<string, string>;
}
export interface InterfaceSpec {
  name: string;
  methods: MethodSpec[];
  properties: PropertySpec[];
  signals: SignalSpec[];
  annotations: Record<string, string>;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const decode = (s: string): string =>
  s.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : ENTITIES[e]!,
  );

// One token per match; sticky, so any character the grammar does not cover is an error rather
// than being skipped silently.
const TOKEN =
  /<!--[\s\S]*?-->|<!DOCTYPE[^>]*>|<\?[\s\S]*?\?>|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/y;
const ATTR = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/** Parses an XML document of the introspection kind and returns its root element. */
export function parseXml(text: string): XmlElement {
  const top: XmlElement = { name: '', attrs: {}, children: [] };
  const stack: XmlElement[] = [top];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`XML: cannot parse at offset ${at}: ${JSON.stringify(text.slice(at, at + 40))}`);
    const [, close, open, attrText, selfClose, chars] = m;
    if (chars !== undefined) {
      if (chars.trim() !== '') throw new Error(`XML: unexpected text ${JSON.stringify(chars.trim().slice(0, 40))}`);
    } else if (open !== undefined) {
      const el: XmlElement = { name: open, attrs: {}, children: [] };
      for (const a of (attrText ?? '').matchAll(ATTR)) el.attrs[a[1]!] = decode(a[2] ?? a[3] ?? '');
      stack[stack.length - 1]!.children.push(el);
      if (!selfClose) stack.push(el);
    } else if (close !== undefined) {
      const el = stack.pop();
      if (!el || el.name !== close) throw new Error(`XML: </${close}> does not close <${el?.name ?? ''}>`);
    }
  }
  if (stack.length !== 1) throw new Error(`XML: <${stack[stack.length - 1]!.name}> is not closed`);
  const roots = top.children;
  if (roots.length !== 1) throw new Error(`XML: expected one root element, found ${roots.length}`);
  return roots[0]!;
}

const annotationsOf = (el: XmlElement): Record<string, string> =>
  Object.fromEntries(el.children.filter((c) => c.name === 'annotation').map((a) => [a.attrs.name ?? '', a.attrs.value ?? '']));

const childrenNamed = (el: XmlElement, name: string): XmlElement[] => el.children.filter((c) => c.name === name);

function required(el: XmlElement, attr: string): string {
  const v = el.attrs[attr];
  if (v === undefined) throw new Error(`introspection: <${el.name}> without ${attr}=`);
  return v;
}

/** The interfaces of an introspection document (`<node>` root), in document order. */
export function parseIntrospection(xml: string): InterfaceSpec[] {
  const node = parseXml(xml);
  if (node.name !== 'node') throw new Error(`introspection: root element is <${node.name}>, not <node>`);
  return childrenNamed(node, 'interface').map((i) => ({
    name: required(i, 'name'),
    annotations: annotationsOf(i),
    methods: childrenNamed(i, 'method').map((m) => ({
      name: required(m, 'name'),
      annotations: annotationsOf(m),
      args: childrenNamed(m, 'arg').map((a) => ({
        name: a.attrs.name ?? '',
        type: required(a, 'type'),
        // Method arguments are "in" unless said otherwise (D-Bus specification).
        direction: a.attrs.direction === 'out' ? 'out' : 'in',
      })),
    })),
    properties: childrenNamed(i, 'property').map((p) => {
      const access = required(p, 'access');
      if (access !== 'read' && access !== 'write' && access !== 'readwrite') throw new Error(`introspection: property access ${access}`);
      return { name: required(p, 'name'), type: required(p, 'type'), access, annotations: annotationsOf(p) };
    }),
    signals: childrenNamed(i, 'signal').map((s) => ({
      name: required(s, 'name'),
      annotations: annotationsOf(s),
      args: childrenNamed(s, 'arg').map((a) => ({ name: a.attrs.name ?? '', type: required(a, 'type') })),
    })),
  }));
}

/** Reads an introspection file: interface name → description. */
export function readContract(xmlPath: string): Map<string, InterfaceSpec> {
  return new Map(parseIntrospection(readFileSync(xmlPath, 'utf8')).map((i) => [i.name, i]));
}

/** The concatenated types of a method's in or out arguments: its D-Bus signature. */
export const signatureOf = (m: MethodSpec, direction: 'in' | 'out'): string =>
  m.args.filter((a) => a.direction === direction).map((a) => a.type).join('');
