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
      family: 'bert',
      vocabSize: 30522,
      embeddingSize: 128,
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
      classifierDropout: 0.1,
      numLabels: 2,
      padTokenId: 0,
    });
  });

  it("reads each family's own keys and defaults (DistilBERT, RoBERTa, ELECTRA)", () => {
    const distil = parseBertConfig({ model_type: 'distilbert', vocab_size: 100, dim: 32, n_layers: 3, n_heads: 4, hidden_dim: 64, max_position_embeddings: 40, activation: 'relu', dropout: 0.05, attention_dropout: 0.02, seq_classif_dropout: 0.3 });
    expect(distil).toMatchObject({ family: 'distilbert', hiddenSize: 32, embeddingSize: 32, numLayers: 3, numHeads: 4, intermediateSize: 64, hiddenAct: 'relu', hiddenDropout: 0.05, attentionDropout: 0.02, classifierDropout: 0.3, typeVocabSize: 0, padTokenId: 0, layerNormEps: 1e-12 });
    const { model_type: _type, pad_token_id: _pad, ...bertKeys } = bertTiny;
    const roberta = parseBertConfig({ ...bertKeys, model_type: 'roberta', type_vocab_size: undefined, layer_norm_eps: 1e-5, classifier_dropout: 0.2 });
    expect(roberta).toMatchObject({ family: 'roberta', padTokenId: 1, typeVocabSize: 1, layerNormEps: 1e-5, classifierDropout: 0.2, hiddenDropout: 0.1 });
    expect(parseBertConfig({ ...bertKeys, model_type: 'electra', embedding_size: 64 })).toMatchObject({ family: 'electra', embeddingSize: 64, hiddenSize: 128 });
    expect(parseBertConfig({ ...bertKeys, model_type: 'electra' }).embeddingSize).toBe(128);
  });

  it('takes the label count from num_labels, id2label, or the caller', () => {
    expect(parseBertConfig({ ...bertTiny, num_labels: 1 }).numLabels).toBe(1);
    expect(parseBertConfig({ ...bertTiny, id2label: { 0: 'a', 1: 'b', 2: 'c' } }).numLabels).toBe(3);
    expect(parseBertConfig(bertTiny, 5).numLabels).toBe(5);
  });

  it('explains what is unsupported', () => {
    expect(() => parseBertConfig({ ...bertTiny, model_type: 'gpt2' })).toThrow(UnsupportedModelError);
    expect(() => parseBertConfig({ ...bertTiny, model_type: 'gpt2' })).toThrow(/"gpt2" is not supported\. Supported architectures: BERT \("bert"\), DistilBERT \("distilbert"\).*Pick a checkpoint/);
    expect(() => parseBertConfig({ ...bertTiny, hidden_act: 'silu' })).toThrow(/hidden_act "silu"/);
    expect(() => parseBertConfig({ ...bertTiny, position_embedding_type: 'relative_key' })).toThrow(/relative_key/);
    const { hidden_size: _drop, ...noHidden } = bertTiny;
    expect(() => parseBertConfig(noHidden)).toThrow(/"hidden_size" is missing/);
    expect(() => parseBertConfig({ ...bertTiny, num_attention_heads: 3 })).toThrow(/not a multiple/);
    expect(() => parseBertConfig([])).toThrow(/not a JSON object/);
  });
});
