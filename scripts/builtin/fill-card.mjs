// Writes the numbers of pretrain_report.json into the Results section of the built-in model card.
// Usage: node scripts/builtin/fill-card.mjs [modelDir=public/models/builtin]
import console from 'node:console';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const START = '<!-- pretrain-results:start -->';
const END = '<!-- pretrain-results:end -->';

const modelDir = process.argv[2] ?? 'public/models/builtin';
const cardPath = join(modelDir, 'README.md');
const report = JSON.parse(readFileSync(join(modelDir, 'pretrain_report.json'), 'utf8'));
const card = readFileSync(cardPath, 'utf8');
if (!card.includes(START) || !card.includes(END))
  throw new Error(`${cardPath} lacks the ${START} ... ${END} markers`);

const pct = (x) => `${(100 * x).toFixed(1)} %`;
const first = report.heldout_curve[0];
const h = report.heldout;
const env = report.environment;
const rows = [
  ['optimizer steps', `${report.steps} (batch ${report.args.batch_size} x ${report.args.seq_len} tokens)`],
  ['training time', `${report.train_seconds} s on ${env.device} (whole run ${report.total_seconds} s)`],
  [
    'tokens seen',
    `${(report.tokens_seen / 1e6).toFixed(1)} M = ${report.corpus.epochs_equivalent} passes over ${(report.corpus.train_tokens / 1e6).toFixed(2)} M train tokens`,
  ],
  ['held-out text', `${report.corpus.heldout_tokens} tokens (${report.corpus.heldout_lines} lines)`],
  ['held-out MLM loss', `${h.mlm_loss} (perplexity ${h.mlm_perplexity}); untrained: ${first.mlm_loss}`],
  [
    'held-out masked-token accuracy',
    `${pct(h.mlm_accuracy)} over ${h.masked_tokens} masked tokens; untrained: ${pct(first.mlm_accuracy)}`,
  ],
  ['held-out next-sentence accuracy', `${pct(h.nsp_accuracy)} over ${h.nsp_pairs} pairs (chance 50 %)`],
  [
    'vocabulary / parameters',
    `${report.vocab_size} word pieces / ${(report.parameters / 1e6).toFixed(2)} M parameters`,
  ],
  ['model.safetensors', `${(report.model_safetensors_bytes / 1e6).toFixed(2)} MB`],
  [
    'software',
    `torch ${env.torch}, transformers ${env.transformers}, tokenizers ${env.tokenizers}; seed ${report.seed}`,
  ],
];
const lastTrain = report.train_curve.at(-1);
const fills = (report.self_test.fill_mask ?? []).map(
  (f) => `- \`${f.text}\` -> ${f.top5.map((t) => `\`${t.token}\` ${t.p.toFixed(2)}`).join(', ')}`,
);
// Set when scripts/builtin/fill_mask_check.py redid the self-test's fill-mask (numpy forward pass).
const recomputed = report.self_test.recomputed;
const numpyCheck = report.self_test.numpy_heldout_check;
const fillSource = recomputed?.fields?.includes('fill_mask')
  ? `Fill-mask samples (top 5 with probabilities), made by \`${recomputed.by.replace(/ \(.*\)$/, '')}\`. They replace the GPU run's own samples, which are void: ${recomputed.why}.`
  : 'Fill-mask samples (top 5 of the reloaded `BertForMaskedLM`, with probabilities):';
const section = [
  START,
  `Measured by \`scripts/reference/pretrain_builtin.py\` (full record: \`pretrain_report.json\`).`,
  '',
  '| | |',
  '| --- | --- |',
  ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  '',
  lastTrain
    ? `Last logged training window (step ${lastTrain.step}): MLM loss ${lastTrain.mlm_loss}, masked-token accuracy ${pct(lastTrain.mlm_accuracy)}, NSP loss ${lastTrain.nsp_loss}.`
    : '',
  numpyCheck
    ? `A numpy re-implementation of the forward pass (\`scripts/builtin/fill_mask_check.py\`, which made the samples below) gets ${pct(numpyCheck.mlm_accuracy)} masked-token accuracy over ${numpyCheck.masked_tokens} tokens of ${numpyCheck.windows} held-out windows masked the same way (${pct(numpyCheck.mlm_accuracy_on_mask_replaced)} on the ${numpyCheck.mask_replaced_tokens} replaced by \`[MASK]\`), in line with the GPU evaluation above.`
    : '',
  '',
  fillSource,
  ...fills,
  END,
].join('\n');

const filled = card.slice(0, card.indexOf(START)) + section + card.slice(card.indexOf(END) + END.length);
writeFileSync(cardPath, filled);
console.log(`filled ${cardPath}: held-out MLM loss ${h.mlm_loss}, accuracy ${pct(h.mlm_accuracy)}`);
