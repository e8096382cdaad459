/** Full fine-tuning's catalog entry and option schema. */
import { bool, type OptionsOf } from '../../engine/options';
import { defineMethod } from '../entry';

export const fullEntry = defineMethod({
  id: 'full',
  label: 'Full fine-tuning',
  // BERT paper (Devlin et al. 2019) Appendix A.3: fine-tuning learning rates 5e-5, 4e-5, 3e-5, 2e-5; the lowest.
  suggestedAdapterLr: 2e-5,
  blurb: 'Every base weight trains (reference, slow).',
  description: 'No adapter: every base weight trains with the adapter learning rate, the embeddings too unless switched off (as the paper\'s FFT baseline).',
  options: [
    bool('trainEmbeddings', { urlKey: 'emb', label: 'Train embeddings', help: 'Also train the word / position / token-type embedding matrices, as full fine-tuning in the paper does (off: faster, fewer parameters).', group: 'Full fine-tuning', default: true }),
  ],
});

export type FullOptions = OptionsOf<typeof fullEntry.options>;
