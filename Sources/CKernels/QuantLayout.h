// QuantLayout: what the kernels of QuantMatVec.c (portable, AVX-512) and QuantMatVecAVX2.c share about the packed
// layout of ProximaKernels.h: its sizes, the high bits of a nibble block, and writing a group's results.
#ifndef PROXIMA_QUANT_LAYOUT_H
#define PROXIMA_QUANT_LAYOUT_H

#include "ProximaKernels.h"
#include <string.h>

#define GROUP PROXIMA_GROUP_ROWS

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/// Bytes of quants per block of one row (nibbles and `hb` planes of high bits, or 32 bytes), and fp32 scales per
/// block of a group (d for each row, then m; twice over with `split`).
static inline int64_t quant_bytes(int nibbles, int hb) { return nibbles ? 16 + 4 * hb : 32; }
static inline int64_t scale_count(int nibbles, int split) { return split ? 4 * GROUP : nibbles ? 2 * GROUP : GROUP; }

/// Bits `hb` planes of a nibble block row add to value j (bit j of plane p is bit 4 + p of the value).
static inline int high_bits(const uint8_t *q, int hb, int j) {
    int v = 0;
    for (int p = 0; p < hb; p++) {
        uint32_t plane;
        memcpy(&plane, q + 16 + 4 * p, 4);
        v |= (int)((plane >> j) & 1) << (4 + p);
    }
    return v;
}

/// Writes (or, with `add`, adds) out[i] to y[r + i] for the `count` rows from r that lie in [row0, row1).
static inline void store_rows(const float *out, int64_t r, int count, int64_t row0, int64_t row1, float *y, int add) {
    for (int i = 0; i < count; i++) {
        if (r + i >= row0 && r + i < row1) y[r + i] = add ? y[r + i] + out[i] : out[i];
    }
}

#endif
