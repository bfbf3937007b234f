// Code highlighting for fenced blocks: one tokenizer (comments, strings,
// numbers, keywords) with per-language keyword and comment sets. Produces
// text nodes inside <span class="tok-..."> — never markup from the code.

const C_LIKE = 'break case catch class const continue default delete do else enum export extends false finally for if import in instanceof new null return static struct switch this throw true try typeof var void while';
const LANGS = {
  js: { kw: C_LIKE + ' async await function let of yield undefined from as interface type implements', line: '//', block: true, tmpl: true },
  python: { kw: 'and as assert async await break class continue def del elif else except False finally for from global if import in is lambda None nonlocal not or pass raise return True try while with yield self print', line: '#', triple: true },
  c: { kw: C_LIKE + ' auto bool char double float int long namespace nullptr private protected public short signed sizeof template typename unsigned using virtual constexpr noexcept override std include define', line: '//', block: true },
  rust: { kw: 'as async await break const continue crate dyn else enum extern false fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while Some None Ok Err', line: '//', block: true },
  go: { kw: 'break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var nil true false', line: '//', block: true },
  java: { kw: C_LIKE + ' abstract boolean byte char double final float implements int interface long package private protected public short super synchronized throws void', line: '//', block: true },
  shell: { kw: 'if then else elif fi for while do done case esac function in return export local echo cd exit set', line: '#' },
  sql: { kw: 'select from where insert into values update set delete create table drop alter join left right inner outer on group by order having limit and or not null as distinct union', line: '--', block: true, ci: true },
  json: { kw: 'true false null' },
};
const ALIASES = {
  javascript: 'js', ts: 'js', typescript: 'js', jsx: 'js', tsx: 'js', mjs: 'js', py: 'python', python3: 'python',
  cpp: 'c', 'c++': 'c', cc: 'c', h: 'c', hpp: 'c', cs: 'java', csharp: 'java', kotlin: 'java', rs: 'rust',
  golang: 'go', sh: 'shell', bash: 'shell', zsh: 'shell', console: 'shell', yaml: 'shell', yml: 'shell',
  toml: 'shell', ini: 'shell',
};

function langOf(name) {
  const n = (name || '').toLowerCase();
  return LANGS[n] || LANGS[ALIASES[n]] || null;
}

// Returns a DocumentFragment of `code` with token spans.
export function highlight(code, lang) {
  const frag = document.createDocumentFragment();
  const spec = langOf(lang);
  if (!spec) {
    frag.append(document.createTextNode(code));
    return frag;
  }
  const words = new Set(spec.kw.split(' ').map((w) => (spec.ci ? w.toLowerCase() : w)));
  let plain = '';
  const push = (cls, text) => {
    if (plain) frag.append(document.createTextNode(plain));
    plain = '';
    const span = document.createElement('span');
    span.className = 'tok-' + cls;
    span.textContent = text;
    frag.append(span);
  };
  let i = 0;
  while (i < code.length) {
    const rest = code.slice(i);
    let m;
    if (spec.line && rest.startsWith(spec.line)) {
      const end = code.indexOf('\n', i);
      const stop = end < 0 ? code.length : end;
      push('com', code.slice(i, stop));
      i = stop;
    } else if (spec.block && rest.startsWith('/*')) {
      const end = code.indexOf('*/', i + 2);
      const stop = end < 0 ? code.length : end + 2;
      push('com', code.slice(i, stop));
      i = stop;
    } else if (spec.triple && (rest.startsWith('"""') || rest.startsWith("'''"))) {
      const q = rest.slice(0, 3);
      const end = code.indexOf(q, i + 3);
      const stop = end < 0 ? code.length : end + 3;
      push('str', code.slice(i, stop));
      i = stop;
    } else if ((m = /^(["'`])(?:\\[\s\S]|(?!\1)[^\\\n])*\1?/.exec(rest)) && (m[1] !== '`' || spec.tmpl)) {
      push('str', m[0]);
      i += m[0].length;
    } else if ((m = /^(?:0x[\da-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?)\b/.exec(rest)) && !/[\w$]/.test(code[i - 1] || '')) {
      push('num', m[0]);
      i += m[0].length;
    } else if ((m = /^[A-Za-z_$][\w$]*/.exec(rest))) {
      const w = spec.ci ? m[0].toLowerCase() : m[0];
      if (words.has(w)) push('kw', m[0]);
      else plain += m[0];
      i += m[0].length;
    } else {
      plain += code[i];
      i += 1;
    }
  }
  if (plain) frag.append(document.createTextNode(plain));
  return frag;
}
