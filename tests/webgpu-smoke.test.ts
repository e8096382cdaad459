import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installNodeWebGPU, type NodeWebGPU } from './helpers/webgpu';

describe('WebGPU under Node (Dawn + SwiftShader)', () => {
  let gpu: NodeWebGPU;
  beforeAll(async () => {
    gpu = await installNodeWebGPU();
  });
  afterAll(async () => {
    await gpu?.teardown();
  });

  it('runs a matmul on the webgpu backend and matches the cpu result', async () => {
    const { tf } = gpu;
    expect(tf.getBackend()).toBe('webgpu');
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = tf.tensor2d([1, 0, 0, 1, 1, 1], [3, 2]);
    const c = tf.matMul(a, b);
    expect(Array.from(await c.data())).toEqual([4, 5, 10, 11]);
    tf.dispose([a, b, c]);
    expect(gpu.uncapturedErrors).toEqual([]);
  });
});
