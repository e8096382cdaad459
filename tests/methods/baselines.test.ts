/**
 * The baselines as the AFLoRA paper ran them (issue #11 item 3): their default trainable counts on BERT-base
 * (the same encoder shape as the paper's DeBERTaV3-base: 12 layers, hidden 768, FFN 3072) equal the closed forms,
 * classifier excluded. The paper's LoRA row says 1.33M: r = 8 on all six linears is 1,327,104.
 */
import { describe, expect, it } from 'vitest';
import { methodOptions } from '../../src/methods/catalog';
import { adapterMethod } from '../../src/methods/registry';
import { tinyConfig } from '../helpers/tinyBert';

const BERT_BASE = tinyConfig({
  vocabSize: 30522,
  hiddenSize: 768,
  numLayers: 12,
  numHeads: 12,
  intermediateSize: 3072,
  maxPositions: 512,
});
const count = (id: string, overrides: object = {}) => adapterMethod(id, overrides).countTrainable(BERT_BASE);

describe('baselines as the paper ran them (BERT-base shapes)', () => {
  it("LoRA: r = 8 on all six linears by default, 1.33M (the paper's LoRA row); target modules stay a choice", () => {
    const perLayer = 4 * 8 * (768 + 768) + 2 * 8 * (768 + 3072);
    expect(count('lora')).toBe(12 * perLayer);
    expect(count('lora')).toBe(1_327_104);
    expect(count('lora', { targetModules: ['query', 'value'] })).toBe(12 * 2 * 8 * 1536); // PEFT's BERT default: 294,912
  });

  it("ELoRA: Λd, Λb on all six linears at the paper's rank 1024 (A/B frozen, Kaiming a = 0 as the official module)", () => {
    const perLayer = 6 * 1024 + 5 * 768 + 3072;
    expect(count('elora')).toBe(12 * perLayer); // 156,672
  });

  it('AFLoRA r = 4: Λ vectors on all six, A/B of the FFN at step 0', () => {
    const vectors = 6 * 4 + 5 * 768 + 3072;
    const ffnAB = 2 * 4 * (768 + 3072);
    expect(count('aflora')).toBe(12 * (vectors + ffnAB)); // 451,872 before anything freezes
  });

  it('full fine-tuning trains the embeddings unless the user opts out', () => {
    expect(methodOptions('full').trainEmbeddings).toBe(true);
    expect(count('full') - count('full', { trainEmbeddings: false })).toBe((30522 + 512 + 2) * 768); // word, position, token type
    expect(count('full')).toBe(109_482_240); // bert-base-uncased without the head: the well-known 109.48M
  });
});
