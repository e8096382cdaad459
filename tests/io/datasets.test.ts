import { describe, expect, it } from 'vitest';
import { buildDataset, encodeExamples, guessColumns, isContinuous, sortLabels, splitValidation, type Example } from '../../src/io/datasets/dataset';
import { parseTable } from '../../src/io/datasets/table';
import { WordPieceTokenizer } from '../../src/io/tokenizer/wordpiece';

describe('parseTable', () => {
  it('reads CSV with a header, quoted commas and newlines, and line numbers', () => {
    const t = parseTable('text,label\n"hello, world",pos\n"two\nlines",neg\nplain,pos\n', 'a.csv');
    expect(t.hasHeader).toBe(true);
    expect(t.columns).toEqual(['text', 'label']);
    expect(t.rows).toEqual([['hello, world', 'pos'], ['two\nlines', 'neg'], ['plain', 'pos']]);
    expect(t.lines).toEqual([2, 3, 5]);
    expect(t.errors).toEqual([]);
  });

  it('reports an unterminated quote with file and line, keeping earlier rows', () => {
    const t = parseTable('text,label\ngood,1\n"broken,0\nmore,1\n', 'b.csv');
    expect(t.rows[0]).toEqual(['good', '1']);
    expect(t.errors[0]).toMatchObject({ file: 'b.csv', line: 3 });
    expect(t.errors[0].message).toMatch(/unterminated quote/);
  });

  it('reads GLUE TSV literally: quotes are text, BOM and CRLF stripped, bad rows reported', () => {
    const tsv = '\ufeffsentence\tlabel\r\nit \'s a "charming\t1\r\n" and often affecting journey\t1\r\nno tab here\r\n';
    const t = parseTable(tsv, 'train.tsv');
    expect(t.columns).toEqual(['sentence', 'label']);
    expect(t.rows.slice(0, 2)).toEqual([['it \'s a "charming', '1'], ['" and often affecting journey', '1']]);
    expect(t.errors).toEqual([{ file: 'train.tsv', line: 4, message: 'missing column(s): 1 fields, the header has 2' }]);
  });

  it('detects a headerless file (CoLA layout) and guesses label and text by content', () => {
    const rows = ['gj04\t1\t\tOur friends won\'t buy this analysis, let alone the next one we propose.', 'gj04\t0\t*\tThey drank the pub.', 'cj99\t1\t\tThe sailors rode the breeze clear of the rocks.', 'cj99\t0\t*\tThe more we study verbs, the crazier they get get.'];
    const t = parseTable(rows.join('\n'), 'in_domain_train.tsv');
    expect(t.hasHeader).toBe(false);
    expect(t.columns).toEqual(['column 1', 'column 2', 'column 3', 'column 4']);
    expect(guessColumns(t)).toEqual({ text: 'column 4', textPair: null, label: 'column 2' });
  });

  it('reads JSONL and names bad lines', () => {
    const t = parseTable('{"text":"a","label":1}\nnot json\n{"text":"b","label":0,"extra":true}\n', 'd.jsonl');
    expect(t.columns).toEqual(['text', 'label', 'extra']);
    expect(t.rows).toEqual([['a', '1', ''], ['b', '0', 'true']]);
    expect(t.lines).toEqual([1, 3]);
    expect(t.errors[0]).toMatchObject({ file: 'd.jsonl', line: 2 });
  });

  it('enforces the row limit, stating it', () => {
    const t = parseTable('text,label\n' + 'x,1\ny,0\n'.repeat(3), 'big.csv', { maxRows: 4 });
    expect(t.rows.length).toBe(4);
    expect(t.errors[0]).toMatchObject({ line: 6, message: expect.stringMatching(/^more than 4 rows \(the limit\): rows from here on are ignored/) });
  });
});

describe('guessColumns', () => {
  it('finds GLUE pair columns by name (MNLI, QNLI, MRPC)', () => {
    const mnli = parseTable('index\tsentence1_parse\tsentence1\tsentence2\tgold_label\n0\t(x)\ta\tb\tneutral\n', 'dev_matched.tsv');
    expect(guessColumns(mnli)).toEqual({ text: 'sentence1', textPair: 'sentence2', label: 'gold_label' });
    const qnli = parseTable('index\tquestion\tsentence\tlabel\n0\tq?\ts.\tentailment\n', 'qnli.tsv');
    expect(guessColumns(qnli)).toEqual({ text: 'question', textPair: 'sentence', label: 'label' });
    const mrpc = parseTable('\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\ta\tb\n', 'msr.tsv');
    expect(guessColumns(mrpc)).toEqual({ text: '#1 String', textPair: '#2 String', label: 'Quality' });
  });
});

describe('buildDataset', () => {
  it('maps string labels to sorted ids and reports bad rows by line', () => {
    const t = parseTable('text,label\nhi,pos\n,neg\nyo,\nok,neg\n', 'e.csv');
    const d = buildDataset(t, guessColumns(t));
    expect(d.task).toBe('classification');
    expect(d.labels).toEqual(['neg', 'pos']);
    expect(d.rows.map((r) => [r.text, r.label, r.line])).toEqual([['hi', 1, 2], ['ok', 0, 5]]);
    expect(d.errors).toEqual([
      { file: 'e.csv', line: 3, message: 'empty text in column "text"' },
      { file: 'e.csv', line: 4, message: 'label missing in column "label"' },
    ]);
  });

  it('sorts numeric labels numerically and detects regression', () => {
    expect(sortLabels(['10', '2', '1'])).toEqual(['1', '2', '10']);
    expect(isContinuous(['0', '1', '1', '0'])).toBe(false);
    expect(isContinuous(Array.from({ length: 30 }, (_, i) => String(i / 6)))).toBe(true);
    const csv = 'sentence1,sentence2,score\n' + Array.from({ length: 25 }, (_, i) => `a${i},b${i},${(i / 5).toFixed(2)}`).join('\n');
    const d = buildDataset(parseTable(csv, 'stsb.csv'), { text: 'sentence1', textPair: 'sentence2', label: 'score' });
    expect(d.task).toBe('regression');
    expect(d.rows[6].label).toBeCloseTo(1.2);
  });

  it('errors on one class only, and on validation labels unseen in training', () => {
    const one = buildDataset(parseTable('text,label\na,x\nb,x\n', 'one.csv'), { text: 'text', textPair: null, label: 'label' });
    expect(one.errors.map((e) => e.message)).toEqual(['only one class (x) among the labels: a classifier needs at least two']);
    const val = buildDataset(parseTable('text,label\na,x\nb,z\n', 'val.csv'), { text: 'text', textPair: null, label: 'label' }, { labels: ['x', 'y'] });
    expect(val.rows.length).toBe(1);
    expect(val.errors).toEqual([{ file: 'val.csv', line: 3, message: 'label "z" does not occur in the training set' }]);
  });

  it('names a missing column', () => {
    const d = buildDataset(parseTable('text,label\na,1\n', 'm.csv'), { text: 'sentence', textPair: null, label: 'label' });
    expect(d.errors[0].message).toBe('text column "sentence" not found (columns: text, label)');
  });
});

describe('splitValidation', () => {
  const rows: Example[] = Array.from({ length: 100 }, (_, i) => ({ text: `t${i}`, textPair: null, label: i < 80 ? 0 : 1, line: i + 2 }));

  it('is stratified, seeded and disjoint', () => {
    const a = splitValidation(rows, 'classification', { seed: 7 });
    expect(a.validation.filter((r) => r.label === 0).length).toBe(8);
    expect(a.validation.filter((r) => r.label === 1).length).toBe(2);
    expect(a.train.length + a.validation.length).toBe(100);
    expect(new Set([...a.train, ...a.validation].map((r) => r.text)).size).toBe(100);
    expect(splitValidation(rows, 'classification', { seed: 7 }).validation).toEqual(a.validation);
    expect(splitValidation(rows, 'classification', { seed: 8 }).validation).not.toEqual(a.validation);
  });

  it('keeps at least one validation row of a rare class', () => {
    const rare = [...rows.slice(0, 50), { text: 'r1', textPair: null, label: 1, line: 1 }, { text: 'r2', textPair: null, label: 1, line: 1 }];
    expect(splitValidation(rare, 'classification').validation.filter((r) => r.label === 1).length).toBe(1);
  });
});

describe('encodeExamples', () => {
  it('produces the engine\'s examples: [count, seqLen] Int32 arrays and labels', () => {
    const tokenizer = new WordPieceTokenizer({ vocab: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a', 'b'], doLowerCase: true, stripAccents: null, tokenizeChineseChars: true });
    const rows: Example[] = [
      { text: 'a', textPair: 'b', label: 1, line: 2 },
      { text: 'a b a b', textPair: 'b', label: 0, line: 3 },
    ];
    const enc = encodeExamples(tokenizer, rows, 'classification', 6);
    expect([enc.count, enc.seqLen]).toEqual([2, 6]);
    expect(Array.from(enc.inputIds)).toEqual([2, 4, 3, 5, 3, 0, 2, 4, 5, 3, 5, 3]);
    expect(Array.from(enc.tokenTypeIds)).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1]);
    expect(Array.from(enc.labels)).toEqual([1, 0]);
    expect(enc.labels).toBeInstanceOf(Int32Array);
    expect(enc.truncated).toBe(1);
  });
});

describe('prepareDataset', () => {
  it('uses a second file for validation with the training classes', async () => {
    const { prepareDataset } = await import('../../src/io/datasets');
    const p = prepareDataset({ name: 'train.csv', text: 'text,label\na,x\nb,y\nc,x\n' }, { validation: { name: 'dev.csv', text: 'label,text\ny,d\n' } });
    expect(p.train.length).toBe(3);
    expect(p.validation).toEqual([{ text: 'd', textPair: null, label: 1, line: 2 }]);
    const bad = prepareDataset({ name: 'train.csv', text: 'text,label\na,x\nb,y\n' }, { validation: { name: 'dev.csv', text: 'sentence,label\nd,y\n' } });
    expect(bad.errors.map((e) => e.message)).toContain('validation file lacks column(s) text of the training file');
  });
});
