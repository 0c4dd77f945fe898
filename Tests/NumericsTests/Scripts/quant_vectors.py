"""Test vectors for Proxima's dequantisation of Q5_0, Q5_1 and the K-quants: random blocks (every bit pattern of
the quantised fields; the f16/f32 scale fields set to finite values of a realistic size) dequantised by the gguf
Python package (gguf.quants, numpy), an implementation independent of Proxima's. Writes
Tests/NumericsTests/Fixtures/quant_vectors.json: per type the blocks' bytes (hex) and the expected float32 bit
patterns. Run with a Python that has gguf and numpy (bench/.peers/torch-venv has both):

    bench/.peers/torch-venv/bin/python Tests/NumericsTests/Scripts/quant_vectors.py
"""

import json
import os

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

BLOCKS = 3
# Per type: bytes per block, and the byte offsets of its f16 factors.
LAYOUT = {
    "Q5_0": (T.Q5_0, 22, [0]),
    "Q5_1": (T.Q5_1, 24, [0, 2]),
    "Q2_K": (T.Q2_K, 84, [80, 82]),
    "Q3_K": (T.Q3_K, 110, [108]),
    "Q4_K": (T.Q4_K, 144, [0, 2]),
    "Q5_K": (T.Q5_K, 176, [0, 2]),
    "Q6_K": (T.Q6_K, 210, [208]),
}


def main():
    rng = np.random.default_rng(20261207)
    out = {"gguf_dequantize": "gguf.quants.dequantize", "types": {}}
    for name, (qtype, size, f16_offsets) in LAYOUT.items():
        blocks = rng.integers(0, 256, size=(BLOCKS, size), dtype=np.uint8)
        for b in range(BLOCKS):
            for offset in f16_offsets:
                value = np.float16(rng.normal(0, 0.02) if b < BLOCKS - 1 else rng.normal(0, 3))
                blocks[b, offset:offset + 2] = np.frombuffer(value.tobytes(), dtype=np.uint8)
        values = dequantize(blocks.reshape(-1), qtype).astype(np.float32).reshape(-1)
        assert np.all(np.isfinite(values)), name
        out["types"][name] = {"hex": blocks.tobytes().hex(), "bits": values.view(np.uint32).tolist()}
    path = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "quant_vectors.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
