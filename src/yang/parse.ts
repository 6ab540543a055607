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

function tokenize(text: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = text.length;
  const fail = (msg: string): never => {
    throw new YangParseError(`${file}:${line}: ${msg}`);
  };
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') { line++; i++; lineStart = i; continue; }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated comment');
      for (let k = i; k < end; k++) if (text[k] === '\n') { line++; lineStart = k + 1; }
      i = end + 2;
      continue;
    }
    if (c === ';') { out.push({ kind: 'semi', value: c, line }); i++; continue; }
    if (c === '{') { out.push({ kind: 'lbrace', value: c, line }); i++; continue; }
    if (c === '}') { out.push({ kind: 'rbrace', value: c, line }); i++; continue; }
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) fail('unterminated single-quoted string');
      const value = text.slice(i + 1, end);
      const startLine = line;
      for (let k = i; k < end; k++) if (text[k] === '\n') { line++; lineStart = k + 1; }
      out.push({ kind: 'qstr', value, line: startLine });
      i = end + 1;
      continue;
    }
    if (c === '"') {
      // RFC 7950 section 6.1.3: escapes, and indentation up to the column after the quote is removed
      // from continuation lines; trailing whitespace before a line break is removed.
      const startLine = line;
      const indentCol = i - lineStart + 1;
      let j = i + 1;
      let cur = '';
      const lines: string[] = [];
      let closed = false;
      while (j < n) {
        const d = text[j]!;
        if (d === '\\') {
          const e = text[j + 1];
          if (e === 'n') cur += '\n';
          else if (e === 't') cur += '\t';
          else if (e === '"') cur += '"';
          else if (e === '\\') cur += '\\';
          else fail(`invalid escape \\${e ?? ''} in double-quoted string`);
          j += 2;
          continue;
        }
        if (d === '"') { closed = true; j++; break; }
        if (d === '\n') {
          lines.push(cur.replace(/[ \t]+$/, ''));
          cur = '';
          line++;
          j++;
          lineStart = j;
          // strip leading whitespace up to indentCol (tab counts as 8 columns)
          let col = 0;
          while (j < n && col < indentCol && (text[j] === ' ' || text[j] === '\t')) {
            col += text[j] === '\t' ? 8 : 1;
            j++;
          }
          continue;
        }
        cur += d;
        j++;
      }
      if (!closed) fail('unterminated double-quoted string');
      lines.push(cur);
      out.push({ kind: 'qstr', value: lines.join('\n'), line: startLine });
      i = j;
      continue;
    }
    if (c === '+' && out.length > 0 && out[out.length - 1]!.kind === 'qstr') {
      // concatenation only between quoted strings; otherwise '+' starts an unquoted string
      let j = i + 1;
      while (j < n && /\s/.test(text[j]!)) j++;
      if (text[j] === '"' || text[j] === "'") {
        out.push({ kind: 'plus', value: '+', line });
        i++;
        continue;
      }
    }
    // unquoted string
    let j = i;
    while (j < n) {
      const d = text[j]!;
      if (d === ' ' || d === '\t' || d === '\n' || d === '\r' || d === ';' || d === '{' || d === '}') break;
      if (d === '/' && (text[j + 1] === '/' || text[j + 1] === '*')) break;
      if (d === '"' || d === "'") fail('quote inside an unquoted string');
      j++;
    }
    out.push({ kind: 'str', value: text.slice(i, j), line });
    i = j;
  }
  return out;
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
