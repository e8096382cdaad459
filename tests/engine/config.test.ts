import { describe, expect, it } from 'vitest';
import { UnsupportedModelError, parseBertConfig } from '../../src/engine/config';

const bertTiny = {
  model_type: 'bert',
  vocab_size: 30522,
  hidden_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 512,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  pad_token_id: 0,
};

describe('parseBertConfig', () => {
  it('reads a Hugging Face BERT config', () => {
    expect(parseBertConfig(bertTiny)).toEqual({
      vocabSize: 30522,
      hiddenSize: 128,
      numLayers: 2,
      numHeads: 2,
      intermediateSize: 512,
      maxPositions: 512,
      typeVocabSize: 2,
      layerNormEps: 1e-12,
      hiddenAct: 'gelu',
      hiddenDropout: 0.1,
      attentionDropout: 0.1,
      numLabels: 2,
      padTokenId: 0,
    });
  });

  it('takes the label count from num_labels, id2label, or the caller', () => {
    expect(parseBertConfig({ ...bertTiny, num_labels: 1 }).numLabels).toBe(1);
    expect(parseBertConfig({ ...bertTiny, id2label: { 0: 'a', 1: 'b', 2: 'c' } }).numLabels).toBe(3);
    expect(parseBertConfig(bertTiny, 5).numLabels).toBe(5);
  });

  it('explains what is unsupported', () => {
    expect(() => parseBertConfig({ ...bertTiny, model_type: 'roberta' })).toThrow(UnsupportedModelError);
    expect(() => parseBertConfig({ ...bertTiny, model_type: 'roberta' })).toThrow(/"roberta" is not supported.*Pick a BERT/);
    expect(() => parseBertConfig({ ...bertTiny, hidden_act: 'silu' })).toThrow(/hidden_act "silu"/);
    expect(() => parseBertConfig({ ...bertTiny, position_embedding_type: 'relative_key' })).toThrow(/relative_key/);
    const { hidden_size: _drop, ...noHidden } = bertTiny;
    expect(() => parseBertConfig(noHidden)).toThrow(/"hidden_size" is missing/);
    expect(() => parseBertConfig({ ...bertTiny, num_attention_heads: 3 })).toThrow(/not a multiple/);
    expect(() => parseBertConfig([])).toThrow(/not a JSON object/);
  });
});
