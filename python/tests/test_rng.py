"""rng.py draws what engine/random.ts draws. The expected numbers were printed by the TypeScript functions
(npx tsx, `new Rng(mixSeed(42, hashString(name)))` etc.)."""

from peft_playground.rng import Rng, hash_string, kaiming_uniform, mix_seed, variable_rng


def test_seed_mixing_and_hashes():
    assert mix_seed(42, 0x5F1E, 3) == 2991848877
    assert hash_string("classifier.weight") == 1565439030
    assert hash_string("Λd€") == 2507849634  # UTF-16 code units, as charCodeAt


def test_streams():
    r = variable_rng(42, "bert.encoder.layer.0.intermediate.dense.lora_A")
    assert [r.next() for _ in range(3)] == [0.3117784031201154, 0.7542362615931779, 0.2699745090212673]
    assert r.normal() == -0.12846703335213144
    assert list(Rng(7).permutation(10)) == [9, 1, 0, 2, 4, 5, 3, 8, 6, 7]
    assert [float(x) for x in kaiming_uniform(Rng(5), 3, 128, 0)] == [0.04608183354139328, -0.07435858994722366, -0.16440258920192719]
