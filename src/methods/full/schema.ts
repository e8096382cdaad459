/** Full fine-tuning's catalog entry and option schema. */
import { bool, type OptionsOf } from '../../engine/options';
import { defineMethod } from '../entry';

export const fullEntry = defineMethod({
  id: 'full',
  label: 'Full fine-tuning',
  blurb: 'Every base weight trains (reference, slow).',
  description: 'No adapter: every encoder and pooler weight trains with the adapter learning rate, embeddings only on request.',
  options: [
    bool('trainEmbeddings', { urlKey: 'emb', label: 'Train embeddings', help: 'Also train the word / position / token-type embedding matrices (slow: sparse gathers).', group: 'Full fine-tuning', default: false }),
  ],
});

export type FullOptions = OptionsOf<typeof fullEntry.options>;
