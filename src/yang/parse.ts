/**
 * YANG text -> statement tree (RFC 7950 section 6: lexical tokenization, statements, quoting).
 * Knows nothing of statement semantics; src/yang/compile.ts does that.
 */
import { HsvError } from '../errors.js';

export class YangParseError extends HsvError<'ERR_YANG_PARSE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_YANG_PARSE', message, options);
  }
}

export interface Stmt {
  /** keyword, possibly prefixed for extensions (e.g. "ncx:abstract") */
  keyword: string;
  /** argument after quoting and concatenation; undefined when absent */
  arg: string | undefined;
  subs: Stmt[];
  line: number;
}

interface Token {
  kind: 'str' | 'qstr' | 'semi' | 'lbrace' | 'rbrace' | 'plus';
  value: string;
  line: number;
}

/** The YANG lexer (RFC 7950 section 6.1): one method per kind of token; `i` the offset read to, `line` its line. */
class Lexer {
  private readonly out: Token[] = [];
  private i = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly text: string, private readonly file: string) {}

  private fail(msg: string): never {
    throw new YangParseError(`${this.file}:${this.line}: ${msg}`);
  }

  tokens(): Token[] {
    const { text } = this;
    while (this.i < text.length) {
      const c = text[this.i]!;
      if (c === '\n') { this.line++; this.i++; this.lineStart = this.i; continue; }
      if (c === ' ' || c === '\t' || c === '\r') { this.i++; continue; }
      if (c === '/' && text[this.i + 1] === '/') this.lineComment();
      else if (c === '/' && text[this.i + 1] === '*') this.blockComment();
      else if (c === ';') this.single('semi', c);
      else if (c === '{') this.single('lbrace', c);
      else if (c === '}') this.single('rbrace', c);
      else if (c === "'") this.singleQuoted();
      else if (c === '"') this.doubleQuoted();
      else if (!this.plus(c)) this.unquoted();
    }
    return this.out;
  }

  private single(kind: Token['kind'], c: string): void {
    this.out.push({ kind, value: c, line: this.line });
    this.i++;
  }

  /** count the line breaks in text[from, to) */
  private linesIn(from: number, to: number): void {
    for (let k = from; k < to; k++) if (this.text[k] === '\n') { this.line++; this.lineStart = k + 1; }
  }

  private lineComment(): void {
    while (this.i < this.text.length && this.text[this.i] !== '\n') this.i++;
  }

  private blockComment(): void {
    const end = this.text.indexOf('*/', this.i + 2);
    if (end < 0) this.fail('unterminated comment');
    this.linesIn(this.i, end);
    this.i = end + 2;
  }

  private singleQuoted(): void {
    const end = this.text.indexOf("'", this.i + 1);
    if (end < 0) this.fail('unterminated single-quoted string');
    const value = this.text.slice(this.i + 1, end);
    const startLine = this.line;
    this.linesIn(this.i, end);
    this.out.push({ kind: 'qstr', value, line: startLine });
    this.i = end + 1;
  }

  /**
   * RFC 7950 section 6.1.3: escapes, and indentation up to the column after the quote is removed from
   * continuation lines; trailing whitespace before a line break is removed.
   */
  private doubleQuoted(): void {
    const { text } = this;
    const n = text.length;
    const startLine = this.line;
    const indentCol = this.i - this.lineStart + 1;
    let j = this.i + 1;
    let cur = '';
    const lines: string[] = [];
    let closed = false;
    while (j < n) {
      const d = text[j]!;
      if (d === '\\') {
        cur += this.escaped(text[j + 1]);
        j += 2;
        continue;
      }
      if (d === '"') { closed = true; j++; break; }
      if (d === '\n') {
        lines.push(cur.replace(/[ \t]+$/, ''));
        cur = '';
        this.line++;
        j++;
        this.lineStart = j;
        j = this.skipIndent(j, indentCol);
        continue;
      }
      cur += d;
      j++;
    }
    if (!closed) this.fail('unterminated double-quoted string');
    lines.push(cur);
    this.out.push({ kind: 'qstr', value: lines.join('\n'), line: startLine });
    this.i = j;
  }

  /** the character an escape in a double-quoted string stands for (\n, \t, \" and \\ only) */
  private escaped(e: string | undefined): string {
    if (e === 'n') return '\n';
    if (e === 't') return '\t';
    if (e === '"') return '"';
    if (e === '\\') return '\\';
    return this.fail(`invalid escape \\${e ?? ''} in double-quoted string`);
  }

  /** leading whitespace of a continuation line up to indentCol (a tab counts as 8 columns); the offset after it */
  private skipIndent(j: number, indentCol: number): number {
    const { text } = this;
    let col = 0;
    while (j < text.length && col < indentCol && (text[j] === ' ' || text[j] === '\t')) {
      col += text[j] === '\t' ? 8 : 1;
      j++;
    }
    return j;
  }

  /** '+' between quoted strings is concatenation (true); otherwise it starts an unquoted string (false) */
  private plus(c: string): boolean {
    const { out, text } = this;
    if (c !== '+' || out.length === 0 || out[out.length - 1]!.kind !== 'qstr') return false;
    let j = this.i + 1;
    while (j < text.length && /\s/.test(text[j]!)) j++;
    if (text[j] !== '"' && text[j] !== "'") return false;
    this.single('plus', '+');
    return true;
  }

  private unquoted(): void {
    const { text } = this;
    let j = this.i;
    while (j < text.length) {
      const d = text[j]!;
      if (d === ' ' || d === '\t' || d === '\n' || d === '\r' || d === ';' || d === '{' || d === '}') break;
      if (d === '/' && (text[j + 1] === '/' || text[j + 1] === '*')) break;
      if (d === '"' || d === "'") this.fail('quote inside an unquoted string');
      j++;
    }
    this.out.push({ kind: 'str', value: text.slice(this.i, j), line: this.line });
    this.i = j;
  }
}

function tokenize(text: string, file: string): Token[] {
  return new Lexer(text, file).tokens();
}

/** Parse the text of one module or submodule into its top statement. */
export function parseYang(text: string, file = '<yang>'): Stmt {
  const toks = tokenize(text, file);
  let p = 0;
  const fail = (msg: string, line?: number): never => {
    throw new YangParseError(`${file}:${line ?? toks[p]?.line ?? '?'}: ${msg}`);
  };
  function parseStmt(): Stmt {
    const kw = toks[p];
    if (!kw || kw.kind !== 'str') return fail(`expected a keyword, found ${kw ? `'${kw.value}'` : 'end of file'}`);
    p++;
    let arg: string | undefined;
    const t = toks[p];
    if (t && (t.kind === 'str' || t.kind === 'qstr')) {
      arg = t.value;
      p++;
      if (t.kind === 'qstr') {
        while (toks[p]?.kind === 'plus') {
          const nx = toks[p + 1];
          if (!nx || nx.kind !== 'qstr') fail("'+' must be followed by a quoted string");
          arg += nx!.value;
          p += 2;
        }
      }
    }
    const end = toks[p];
    if (!end) return fail(`statement '${kw.value}' is not terminated`, kw.line);
    if (end.kind === 'semi') {
      p++;
      return { keyword: kw.value, arg, subs: [], line: kw.line };
    }
    if (end.kind === 'lbrace') {
      p++;
      const subs: Stmt[] = [];
      while (toks[p] && toks[p]!.kind !== 'rbrace') subs.push(parseStmt());
      if (!toks[p]) fail(`missing '}' for '${kw.value}'`, kw.line);
      p++;
      return { keyword: kw.value, arg, subs, line: kw.line };
    }
    return fail(`unexpected '${end.value}' after '${kw.value}'`, end.line);
  }
  const top = parseStmt();
  if (p !== toks.length) fail('text after the end of the module');
  if (top.keyword !== 'module' && top.keyword !== 'submodule') fail(`expected module or submodule, found '${top.keyword}'`, top.line);
  return top;
}

/** First substatement with this keyword. */
export function sub(s: Stmt, keyword: string): Stmt | undefined {
  return s.subs.find((x) => x.keyword === keyword);
}

export function subArg(s: Stmt, keyword: string): string | undefined {
  return sub(s, keyword)?.arg;
}

export function subsOf(s: Stmt, keyword: string): Stmt[] {
  return s.subs.filter((x) => x.keyword === keyword);
}
