// A small Markdown renderer that builds DOM nodes only: model text reaches the
// page through textContent and never through innerHTML, so HTML in a reply
// (`<img src=x onerror=...>`, `<script>`) shows as the characters it is.
// Covers what chat models write: headings, paragraphs, emphasis, inline and
// fenced code (highlighted), lists, quotes, tables, rules and links. Links
// keep only http(s) and mailto URLs; images show as links, never load.
import { highlight } from './highlight.js';

const SAFE_URL = /^(https?:|mailto:)/i;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function safeLink(url, children) {
  const trimmed = url.trim();
  if (!SAFE_URL.test(trimmed)) return null;
  const a = el('a');
  a.href = trimmed;
  a.rel = 'noopener noreferrer nofollow';
  a.target = '_blank';
  for (const c of children) a.append(c);
  return a;
}

// Inline spans: code, links, images (as links), bold, italic, strike, breaks.
// Sticky (y) regexes, matched at the current position. Spans are bounded
// (1000 characters of emphasis, 2000 of a URL, ...) so an opener without a
// closer costs a bounded scan, not one to the end of the reply: rendering
// stays linear while a long reply streams in.
const INLINE_RULES = [
  { re: /(`+)([\s\S]{0,4000}?[^`])\1(?!`)/y, make: (m) => el('code', null, m[2].replace(/^ (.*) $/, '$1')) },
  {
    re: /!\[([^\]]{0,500})\]\(([^)\s]{1,2000})(?:\s+"[^"]{0,500}")?\)/y,
    make: (m) => safeLink(m[2], [document.createTextNode('[image: ' + (m[1] || m[2]) + ']')]),
  },
  { re: /\[((?:[^\[\]]|\[[^\[\]]{0,500}\]){1,500})\]\(([^)\s]{1,2000})(?:\s+"[^"]{0,500}")?\)/y, make: (m) => safeLink(m[2], inline(m[1])) },
  { re: /<(https?:\/\/[^>\s]{1,2000})>/y, make: (m) => safeLink(m[1], [document.createTextNode(m[1])]) },
  {
    re: /https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"*_~]/y,
    make: (m) => safeLink(m[0], [document.createTextNode(m[0])]),
  },
  { re: /\*\*(?=\S)([\s\S]{0,1000}?\S)\*\*/y, make: (m) => wrap('strong', m[1]) },
  // Underscores close only at a word's end (CommonMark: snake__case is text).
  { re: /__(?=\S)([\s\S]{0,1000}?\S)__(?![A-Za-z0-9_])/y, make: (m) => wrap('strong', m[1]) },
  { re: /~~(?=\S)([\s\S]{0,1000}?\S)~~/y, make: (m) => wrap('del', m[1]) },
  { re: /\*(?=[^\s*])([\s\S]{0,1000}?[^\s*])\*(?!\*)/y, make: (m) => wrap('em', m[1]) },
  { re: /_(?=[^\s_])([\s\S]{0,1000}?[^\s_])_(?![A-Za-z0-9_])/y, make: (m) => wrap('em', m[1]) },
  { re: / {2,}\n|\\\n/y, make: () => el('br') },
  { re: /\\([!-/:-@[-`{-~])/y, make: (m) => document.createTextNode(m[1]) },
];

function wrap(tag, text) {
  const node = el(tag);
  for (const c of inline(text)) node.append(c);
  return node;
}

// Returns an array of nodes for one run of inline Markdown.
export function inline(text) {
  const out = [];
  let plain = '';
  let i = 0;
  const flush = () => {
    if (plain) out.push(document.createTextNode(plain));
    plain = '';
  };
  while (i < text.length) {
    const ch = text[i];
    // Emphasis inside a word (snake_case) is not emphasis.
    const wordBefore = i > 0 && /[A-Za-z0-9]/.test(text[i - 1]);
    let matched = false;
    // Only characters that can start a span are tried (sticky regexes at i:
    // no copy of the rest of the text, so a long reply stays linear).
    const candidate =
      '`![<*_~\\'.includes(ch) || (ch === ' ' && text[i + 1] === ' ') || (ch === 'h' && text.startsWith('http', i));
    if (candidate && !(ch === '_' && wordBefore)) {
      for (const rule of INLINE_RULES) {
        rule.re.lastIndex = i;
        const m = rule.re.exec(text);
        if (!m) continue;
        const node = rule.make(m);
        if (!node) continue;
        flush();
        out.push(node);
        i += m[0].length;
        matched = true;
        break;
      }
    }
    if (!matched) {
      plain += ch;
      i += 1;
    }
  }
  flush();
  return out;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])(?:\s+(.*))?$/;
const TABLE_SEP = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

function splitRow(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const cells = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && s[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (s[i] === '|') {
      cells.push(cur.trim());
      cur = '';
    } else cur += s[i];
  }
  cells.push(cur.trim());
  return cells;
}

function startsBlock(line, next) {
  return (
    FENCE.test(line) ||
    HEADING.test(line) ||
    RULE.test(line) ||
    QUOTE.test(line) ||
    ITEM.test(line) ||
    (line.includes('|') && next !== undefined && TABLE_SEP.test(next) && next.includes('-'))
  );
}

function codeBlock(code, lang) {
  const pre = el('pre');
  const codeEl = el('code');
  if (lang) {
    codeEl.className = 'language-' + lang.replace(/[^\w+#.-]/g, '');
    codeEl.dataset.lang = lang;
  }
  codeEl.append(highlight(code, lang));
  pre.append(codeEl);
  return pre;
}

// Renders Markdown `src` into a DocumentFragment. An unfinished reply (an open
// code fence while streaming) renders as far as it goes.
export function renderMarkdown(src) {
  const frag = document.createDocumentFragment();
  const lines = String(src).replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    let m;
    if ((m = FENCE.exec(line))) {
      const fence = m[1];
      const body = [];
      i++;
      while (i < lines.length && !new RegExp('^ {0,3}' + fence[0] + '{' + fence.length + ',}\\s*$').test(lines[i]))
        body.push(lines[i++]);
      i++;  // the closing fence (or past the end)
      frag.append(codeBlock(body.join('\n'), m[2]));
      continue;
    }
    if ((m = HEADING.exec(line))) {
      const h = el('h' + m[1].length);
      for (const c of inline(m[2] || '')) h.append(c);
      frag.append(h);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      frag.append(el('hr'));
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i]))) {
        body.push(m[1]);
        i++;
      }
      const q = el('blockquote');
      q.append(renderMarkdown(body.join('\n')));
      frag.append(q);
      continue;
    }
    if ((m = ITEM.exec(line))) {
      const ordered = /\d/.test(m[2]);
      const list = el(ordered ? 'ol' : 'ul');
      if (ordered && parseInt(m[2], 10) !== 1) list.start = parseInt(m[2], 10);
      let loose = false;
      while (i < lines.length && (m = ITEM.exec(lines[i])) && /\d/.test(m[2]) === ordered) {
        const indent = m[1].length + m[2].length + 1;
        const body = [m[3] || ''];
        i++;
        // Continuation: indented lines, and blank lines followed by indented ones.
        while (i < lines.length) {
          const l = lines[i];
          if (!l.trim()) {
            if (i + 1 < lines.length && /^\s{2,}\S/.test(lines[i + 1])) {
              loose = true;
              body.push('');
              i++;
              continue;
            }
            break;
          }
          if (/^\s{2,}/.test(l)) body.push(l.slice(Math.min(indent, l.length - l.trimStart().length)));
          else if (!startsBlock(l, lines[i + 1])) body.push(l);  // lazy continuation
          else break;
          i++;
        }
        const li = el('li');
        const text = body.join('\n');
        if (!loose && !/\n\s*(?:[-*+]|\d+[.)])\s|```|\n\n/.test(text)) {
          for (const c of inline(text)) li.append(c);
        } else {
          li.append(renderMarkdown(text));
        }
        list.append(li);
        // A blank line between items keeps the same list.
        if (i < lines.length && !lines[i].trim() && i + 1 < lines.length && ITEM.test(lines[i + 1])) i++;
      }
      frag.append(list);
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const head = splitRow(line);
      const aligns = splitRow(lines[i + 1]).map((c) =>
        c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : ''
      );
      i += 2;
      const wrapper = el('div', 'table-wrap');
      const table = el('table');
      const thead = el('thead');
      const tr = el('tr');
      head.forEach((cell, k) => {
        const th = el('th');
        if (aligns[k]) th.style.textAlign = aligns[k];
        for (const c of inline(cell)) th.append(c);
        tr.append(th);
      });
      thead.append(tr);
      table.append(thead);
      const tbody = el('tbody');
      while (i < lines.length && lines[i].includes('|') && lines[i].trim()) {
        const row = el('tr');
        const cells = splitRow(lines[i]);
        head.forEach((_, k) => {
          const td = el('td');
          if (aligns[k]) td.style.textAlign = aligns[k];
          for (const c of inline(cells[k] ?? '')) td.append(c);
          row.append(td);
        });
        tbody.append(row);
        i++;
      }
      table.append(tbody);
      wrapper.append(table);
      frag.append(wrapper);
      continue;
    }
    const para = [line];
    i++;
    while (i < lines.length && lines[i].trim() && !startsBlock(lines[i], lines[i + 1])) para.push(lines[i++]);
    const p = el('p');
    for (const c of inline(para.join('\n').trim())) p.append(c);
    frag.append(p);
  }
  return frag;
}
