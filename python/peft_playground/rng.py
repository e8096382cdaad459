"""engine/random.ts in Python: the app's seeded PRNG (mulberry32 behind a splitmix-style seed mixer), so a run
here draws the same initial adapter values, classifier head, epoch shuffles and validation split as the browser.
JavaScript's 32-bit integer semantics (Math.imul, >>>, |0) are spelled out with masks."""

import math

import numpy as np

M32 = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    return (a * b) & M32


def mix_seed(*parts: int) -> int:
    h = 0x9E3779B9
    for part in parts:
        h = _imul(h ^ (part & M32), 0x85EBCA6B)
        h ^= h >> 13
        h = _imul(h, 0xC2B2AE35)
        h ^= h >> 16
    return h & M32


def hash_string(text: str) -> int:
    """FNV-1a over UTF-16 code units (JavaScript's charCodeAt)."""
    h = 0x811C9DC5
    units = text.encode("utf-16-le")
    for i in range(0, len(units), 2):
        h ^= units[i] | (units[i + 1] << 8)
        h = _imul(h, 0x01000193)
    return h


class Rng:
    def __init__(self, seed: int):
        self.state = mix_seed(seed) or 1

    def next(self) -> float:
        """Uniform in [0, 1) (mulberry32)."""
        self.state = (self.state + 0x6D2B79F5) & M32
        t = self.state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296

    def int(self, n: int) -> int:
        return math.floor(self.next() * n)

    def normal(self) -> float:
        u = 1 - self.next()
        v = self.next()
        return math.sqrt(-2 * math.log(u)) * math.cos(2 * math.pi * v)

    def uniform_array(self, size: int, low: float, high: float) -> np.ndarray:
        return np.array([low + (high - low) * self.next() for _ in range(size)], dtype=np.float32)

    def normal_array(self, size: int, std: float) -> np.ndarray:
        return np.array([self.normal() * std for _ in range(size)], dtype=np.float32)

    def permutation(self, n: int) -> np.ndarray:
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.int(i + 1)
            order[i], order[j] = order[j], order[i]
        return np.array(order, dtype=np.int64)


def kaiming_uniform(rng: Rng, size: int, fan_in: int, a: float) -> np.ndarray:
    bound = math.sqrt(6 / ((1 + a * a) * fan_in))
    return rng.uniform_array(size, -bound, bound)


def variable_rng(seed: int, name: str) -> Rng:
    """The generator of one named variable (methods/common.ts createVariable, engine/weights.ts initHeadTensor)."""
    return Rng(mix_seed(seed, hash_string(name)))
