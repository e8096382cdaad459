import { describe, expect, it } from 'vitest';
import { guessMapping, parseTable, summarize } from '../../src/ui/dataPreview';

const CSV = [
  'text,label',
  'hello there,ham',
  '"multi',
  'line cell",spam',
  ',ham',
  'too,many,fields',
  '',
  'last one,',
  'ok again,spam',
].join('\n');

describe('parseTable', () => {
  it('reports the file line of each row, through multi-line quoted cells and blank lines', () => {
    const table = parseTable(CSV);
    expect(table.columns).toEqual(['text', 'label']);
    expect(table.rows.map((r) => r[0])).toEqual(['hello there', 'multi\nline cell', '', 'last one', 'ok again']);
    expect(table.rowLines).toEqual([2, 3, 5, 8, 9]);
    expect(table.errors).toEqual([{ line: 6, message: 'expected 2 fields, found 3' }]);
  });

  it('reads TSV and JSON Lines', () => {
    expect(parseTable('a\tb\nx\t1\n', 'd.tsv').rows).toEqual([['x', '1']]);
    const jsonl = parseTable('{"text":"a","label":1}\nnot json\n{"text":"b","label":0,"extra":true}\n', 'd.jsonl');
    expect(jsonl.columns).toEqual(['text', 'label', 'extra']);
    expect(jsonl.rows).toEqual([
      ['a', '1', ''],
      ['b', '0', 'true'],
    ]);
    expect(jsonl.rowLines).toEqual([1, 3]);
    expect(jsonl.errors[0].line).toBe(2);
  });
});

describe('summarize', () => {
  it('counts labels and lists bad rows by line', () => {
    const table = parseTable(CSV);
    const summary = summarize(table, { textA: 'text', label: 'label', task: 'classification' });
    expect(summary.labels).toEqual([
      { label: 'ham', count: 1 },
      { label: 'spam', count: 2 },
    ]);
    expect(summary.usableRows).toBe(3);
    expect(summary.errors.map((e) => e.line)).toEqual([5, 6, 8]);
  });

  it('checks regression labels are numbers', () => {
    const table = parseTable('s1,s2,score\na,b,0.5\nc,d,x\ne,f,4\n');
    const summary = summarize(table, { textA: 's1', textB: 's2', label: 'score', task: 'regression' });
    expect(summary.range).toEqual({ min: 0.5, max: 4 });
    expect(summary.errors).toEqual([{ line: 3, message: 'label "x" is not a number' }]);
  });
});

describe('guessMapping', () => {
  it('uses the sample dataset hint, then common column names', () => {
    expect(guessMapping(['sentence_a', 'sentence_b', 'label'], { textColumns: ['sentence_a', 'sentence_b'], labelColumn: 'label' })).toEqual({
      textA: 'sentence_a', textB: 'sentence_b', label: 'label', task: 'classification',
    });
    expect(guessMapping(['id', 'premise', 'hypothesis', 'class'])).toEqual({ textA: 'premise', textB: 'hypothesis', label: 'class', task: 'classification' });
    expect(guessMapping(['only'])).toBeNull();
  });
});
