/**
 * Consul's `?filter=` expressions (the go-bexpr language), evaluated over the JSON objects an
 * endpoint answers. Grammar (precedence low to high):
 *
 *   expr      := or
 *   or        := and ("or" and)*
 *   and       := not ("and" not)*
 *   not       := "not" not | "(" expr ")" | match
 *   match     := selector ("==" | "!=") value
 *              | selector "is" ["not"] "empty"
 *              | value ["not"] "in" selector
 *              | selector ["not"] "contains" value
 *              | selector ["not"] "matches" value          (a JavaScript regular expression)
 *   selector  := name ("." name | "[" string "]")*         e.g. Service.Meta["env"], Node.Meta.rack
 *   value     := "double quoted" | `back quoted` | number | true | false | bare-word
 *
 * Semantics, as the objects are JSON rather than Go structs:
 *  - a selector that names a missing field selects nothing: `==` is false, `!=` true, `is empty`
 *    true (go-bexpr rejects selectors that are not fields of the Go type; we cannot know the type of
 *    an empty list, so we do not);
 *  - a selector passing through an array of objects selects the field of every element (so
 *    `Checks.Status == critical` holds when any check is critical, `"web" in Checks.ServiceName` too);
 *  - `==` compares the value's text with a string, number or boolean field (`Port == 80`,
 *    `ServiceEnableTagOverride == false`); on an array it holds when any element is equal;
 *  - `in` / `contains`: membership in an array, a key of an object, a substring of a string.
 *
 * `compileFilter` never throws: a malformed expression is a `FilterError` with its position, which
 * the router answers as 400, before the request reaches the agent.
 */

import { setFlagsFromString } from 'node:v8';

// `matches` takes a pattern from the query string: with a backtracking engine `(a+)+$` would hang
// the agent. V8's linear-time engine (the `l` flag) refuses what cannot run in linear time —
// backreferences, lookaround — which Go's RE2, the engine Consul uses, does not have either.
setFlagsFromString('--enable-experimental-regexp-engine');
const linearFlag = (() => {
  try {
    new RegExp('a', 'l');
    return true;
  } catch {
    return false;
  }
})();

function linearRegExp(pattern: string): RegExp {
  if (linearFlag) return new RegExp(pattern, 'l');
  // Without the linear engine, allow only patterns with no nested or adjacent quantified groups.
  if (/[+*}?]\s*\)[+*{?]|\\[1-9]|\(\?[=!<]/.test(pattern)) throw new Error('this pattern could take exponential time');
  return new RegExp(pattern);
}

export type FilterPredicate = (item: unknown) => boolean;

export interface FilterError {
  readonly error: string;
}

/** Longest expression accepted; Consul has no limit, but a query string is no place for a program. */
export const filterLengthMax = 4096;
/** Deepest nesting of parentheses and `not`s: keeps the recursive parser off the stack limit. */
const nestingMax = 64;

type Token =
  | { readonly kind: 'word'; readonly text: string; readonly at: number }
  | { readonly kind: 'string'; readonly text: string; readonly at: number }
  | { readonly kind: 'op'; readonly text: '==' | '!=' | '(' | ')' | '.' | '[' | ']'; readonly at: number }
  | { readonly kind: 'end'; readonly at: number };

type Path = readonly string[];
type Node =
  | { readonly kind: 'or' | 'and'; readonly left: Node; readonly right: Node }
  | { readonly kind: 'not'; readonly inner: Node }
  | { readonly kind: 'eq'; readonly path: Path; readonly value: string; readonly negate: boolean }
  | { readonly kind: 'empty'; readonly path: Path; readonly negate: boolean }
  | { readonly kind: 'in'; readonly path: Path; readonly value: string; readonly negate: boolean }
  | { readonly kind: 'matches'; readonly path: Path; readonly re: RegExp; readonly negate: boolean };

class ParseError extends Error {}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '=' || c === '!') {
      if (source[i + 1] !== '=') throw new ParseError(`unexpected '${c}' at position ${i + 1} (did you mean '${c}='?)`);
      tokens.push({ kind: 'op', text: c === '=' ? '==' : '!=', at: i });
      i += 2;
      continue;
    }
    if (c === '(' || c === ')' || c === '.' || c === '[' || c === ']') {
      tokens.push({ kind: 'op', text: c, at: i });
      i++;
      continue;
    }
    if (c === '"' || c === '`') {
      const start = i;
      let text = '';
      i++;
      for (;;) {
        if (i >= source.length) throw new ParseError(`unterminated string starting at position ${start + 1}`);
        const d = source[i]!;
        if (d === c) break;
        if (c === '"' && d === '\\') {
          const e = source[i + 1];
          if (e === undefined) throw new ParseError(`unterminated string starting at position ${start + 1}`);
          text += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          i += 2;
          continue;
        }
        text += d;
        i++;
      }
      i++;
      tokens.push({ kind: 'string', text, at: start });
      continue;
    }
    if (/[A-Za-z0-9_\-:/+]/.test(c)) {
      const start = i;
      // A number keeps its decimal point (`Port == 80.0`); elsewhere '.' separates selector fields.
      const numeric = /[0-9-]/.test(c);
      while (
        i < source.length &&
        (/[A-Za-z0-9_\-:/+]/.test(source[i]!) || (numeric && source[i] === '.' && /[0-9]/.test(source[i + 1] ?? '')))
      )
        i++;
      tokens.push({ kind: 'word', text: source.slice(start, i), at: start });
      continue;
    }
    throw new ParseError(`unexpected '${c}' at position ${i + 1}`);
  }
  tokens.push({ kind: 'end', at: source.length });
  return tokens;
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }
  private isWord(t: Token, text: string): boolean {
    return t.kind === 'word' && t.text.toLowerCase() === text;
  }
  private where(t: Token): string {
    return t.kind === 'end' ? 'at the end of the expression' : `at position ${t.at + 1}`;
  }
  private expectWord(text: string): void {
    const t = this.next();
    if (!this.isWord(t, text)) throw new ParseError(`expected '${text}' ${this.where(t)}`);
  }

  parse(): Node {
    const node = this.or();
    const t = this.peek();
    if (t.kind !== 'end') throw new ParseError(`unexpected ${describe(t)} ${this.where(t)}`);
    return node;
  }

  private or(): Node {
    let left = this.and();
    while (this.isWord(this.peek(), 'or')) {
      this.next();
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Node {
    let left = this.not();
    while (this.isWord(this.peek(), 'and')) {
      this.next();
      left = { kind: 'and', left, right: this.not() };
    }
    return left;
  }

  private not(): Node {
    if (++this.depth > nestingMax) throw new ParseError(`expression nested deeper than ${nestingMax}`);
    try {
      const t = this.peek();
      // `not` starts a negation unless it is a value followed by `in` ("not" in Tags is odd but legal).
      if (this.isWord(t, 'not') && !this.isWord(this.peek(1), 'in')) {
        this.next();
        return { kind: 'not', inner: this.not() };
      }
      if (t.kind === 'op' && t.text === '(') {
        this.next();
        const inner = this.or();
        const close = this.next();
        if (!(close.kind === 'op' && close.text === ')')) throw new ParseError(`expected ')' ${this.where(close)}`);
        return inner;
      }
      return this.match();
    } finally {
      this.depth--;
    }
  }

  private match(): Node {
    const first = this.peek();
    // `value [not] in selector`
    if (
      first.kind === 'string' ||
      (first.kind === 'word' &&
        (this.isWord(this.peek(1), 'in') || (this.isWord(this.peek(1), 'not') && this.isWord(this.peek(2), 'in'))))
    ) {
      const value = this.value();
      let negate = false;
      if (this.isWord(this.peek(), 'not')) {
        this.next();
        negate = true;
      }
      this.expectWord('in');
      return { kind: 'in', path: this.selector(), value, negate };
    }
    const path = this.selector();
    const t = this.next();
    if (t.kind === 'op' && (t.text === '==' || t.text === '!='))
      return { kind: 'eq', path, value: this.value(), negate: t.text === '!=' };
    if (this.isWord(t, 'is')) {
      let negate = false;
      if (this.isWord(this.peek(), 'not')) {
        this.next();
        negate = true;
      }
      this.expectWord('empty');
      return { kind: 'empty', path, negate };
    }
    let negate = false;
    let op = t;
    if (this.isWord(t, 'not')) {
      negate = true;
      op = this.next();
    }
    if (this.isWord(op, 'contains')) return { kind: 'in', path, value: this.value(), negate };
    if (this.isWord(op, 'matches')) {
      const at = this.peek();
      const pattern = this.value();
      let re: RegExp;
      try {
        re = linearRegExp(pattern);
      } catch (error) {
        throw new ParseError(`invalid regular expression ${this.where(at)}: ${(error as Error).message}`);
      }
      return { kind: 'matches', path, re, negate };
    }
    throw new ParseError(
      `expected an operator (==, !=, is empty, contains, in, matches) ${this.where(op)}, found ${describe(op)}`,
    );
  }

  private selector(): Path {
    const first = this.next();
    if (first.kind !== 'word')
      throw new ParseError(`expected a selector ${this.where(first)}, found ${describe(first)}`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(first.text))
      throw new ParseError(`invalid selector '${first.text}' ${this.where(first)}`);
    const path: string[] = [first.text];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'op' && t.text === '.') {
        this.next();
        const name = this.next();
        if (name.kind !== 'word') throw new ParseError(`expected a field name after '.' ${this.where(name)}`);
        path.push(name.text);
      } else if (t.kind === 'op' && t.text === '[') {
        this.next();
        const key = this.next();
        if (key.kind !== 'string') throw new ParseError(`expected a quoted key after '[' ${this.where(key)}`);
        const close = this.next();
        if (!(close.kind === 'op' && close.text === ']')) throw new ParseError(`expected ']' ${this.where(close)}`);
        path.push(key.text);
      } else return path;
    }
  }

  private value(): string {
    const t = this.next();
    if (t.kind === 'string' || t.kind === 'word') return t.text;
    throw new ParseError(`expected a value ${this.where(t)}, found ${describe(t)}`);
  }
}

function describe(t: Token): string {
  return t.kind === 'end' ? 'the end' : t.kind === 'string' ? `"${t.text}"` : `'${t.text}'`;
}

// ─────────────────────────────────────────── evaluation ───────────────────────────────────────────

const missing = Symbol('missing');
type Selected = unknown | typeof missing;

/** Field lookup: exact name first, then case-insensitively (Go field names are matched that way). */
function field(object: Record<string, unknown>, name: string): Selected {
  if (Object.prototype.hasOwnProperty.call(object, name)) return object[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(object)) if (key.toLowerCase() === lower) return object[key];
  return missing;
}

/** Follow a selector; an array of objects on the way fans out into an array of the field's values. */
function select(item: unknown, path: Path): Selected {
  let current: Selected = item;
  for (const name of path) {
    if (current === missing || current === null || typeof current !== 'object') return missing;
    if (Array.isArray(current)) {
      const values = current
        .filter((e) => e !== null && typeof e === 'object' && !Array.isArray(e))
        .map((e) => field(e as Record<string, unknown>, name))
        .filter((v) => v !== missing);
      current = values.flatMap((v) => (Array.isArray(v) ? v : [v]));
      continue;
    }
    current = field(current as Record<string, unknown>, name);
  }
  return current;
}

function scalarEquals(actual: unknown, value: string): boolean {
  if (typeof actual === 'string') return actual === value;
  if (typeof actual === 'number') return value.trim() !== '' && Number(value) === actual;
  if (typeof actual === 'boolean') return value.toLowerCase() === String(actual);
  if (actual === null) return value === '' || value === 'null';
  return false;
}

function isEmpty(v: Selected): boolean {
  if (v === missing || v === null || v === undefined) return true;
  if (typeof v === 'string' || Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

function evaluate(node: Node, item: unknown): boolean {
  switch (node.kind) {
    case 'or':
      return evaluate(node.left, item) || evaluate(node.right, item);
    case 'and':
      return evaluate(node.left, item) && evaluate(node.right, item);
    case 'not':
      return !evaluate(node.inner, item);
    case 'eq': {
      const v = select(item, node.path);
      const equal =
        v !== missing && (Array.isArray(v) ? v.some((e) => scalarEquals(e, node.value)) : scalarEquals(v, node.value));
      return equal !== node.negate;
    }
    case 'empty':
      return isEmpty(select(item, node.path)) !== node.negate;
    case 'in': {
      const v = select(item, node.path);
      let found = false;
      if (Array.isArray(v)) found = v.some((e) => scalarEquals(e, node.value));
      else if (typeof v === 'string') found = v.includes(node.value);
      else if (v !== null && typeof v === 'object') found = Object.prototype.hasOwnProperty.call(v, node.value);
      return found !== node.negate;
    }
    case 'matches': {
      const v = select(item, node.path);
      const values = Array.isArray(v) ? v : [v];
      const found = values.some((e) => typeof e === 'string' && node.re.test(e));
      return found !== node.negate;
    }
  }
}

/** Parse a filter expression. The error text is what the router answers with status 400. */
export function compileFilter(source: string): FilterPredicate | FilterError {
  if (source.length > filterLengthMax)
    return { error: `Failed to create boolean expression evaluator: filter longer than ${filterLengthMax} characters` };
  if (source.trim() === '') return { error: 'Failed to create boolean expression evaluator: empty filter expression' };
  try {
    const tree = new Parser(tokenize(source)).parse();
    return (item) => evaluate(tree, item);
  } catch (error) {
    if (error instanceof ParseError)
      return { error: `Failed to create boolean expression evaluator: ${error.message}` };
    throw error;
  }
}

export function isFilterError(x: FilterPredicate | FilterError): x is FilterError {
  return typeof x !== 'function';
}
