// y = W·x for one or many vectors over the grouped block-quantised layout of ProximaKernels.h.
//
// One pass over a group of 4 rows reads its quants and its scales as two sequential streams (the quants
// prefetched ahead).
// - 1 vector:  each block's 32 quants are widened to two vectors of 16 floats and
//   acc += d·(q_lo·x_lo + q_hi·x_hi), with the offsets' share m·Σx added once per block;
// - 2–16 vectors (decode of a few sequences): w = d·q + m is formed once per block (Q4: the nibbles look up a
//   16-entry table d·k + m, two permutes per row instead of two conversions and two FMAs) and acc_v += w·x_v, in
//   registers: 4 rows × up to 4 vectors, or, from 5 vectors on, 2 rows × up to 8 vectors (re-widened for
//   every chunk of vectors; the wider tile forms each row's weights half as often per vector);
// - more (prefill, many sequences): the group is dequantised once into fp32 rows on the stack, which then
//   serve blocks of vectors in a register tile of 4 rows × 6 vectors, so the loop is almost only FMAs.
// Without AVX-512, the AVX2 kernel of QuantMatVecAVX2.c; without AVX2, portable C.
#include "QuantLayout.h"
#include <math.h>

/// Above this many vectors the group is dequantised once (its cost shared by more vectors) instead of
/// widened per chunk of vectors.
#define MANY_VECTORS 16

// MARK: - Portable

void proxima_packed_dequantize_rows(const proxima_packed_matrix *w, int64_t row0, int64_t row1, float *out) {
    const int64_t nb = w->blocksPerRow, qb = quant_bytes(w->nibbles, w->highBits), sc = scale_count(w->nibbles, w->split);
    for (int64_t r = row0; r < row1; r++) {
        const int64_t g = r / GROUP, i = r % GROUP;
        float *o = out + (r - row0) * nb * 32;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *q = w->quants + ((g * nb + b) * GROUP + i) * qb;
            const float *s = w->scales + (g * nb + b) * sc;
            for (int j = 0; j < 32; j++) {
                const float *sj = s + (w->split && j >= 16 ? 2 * GROUP : 0);
                const float d = sj[i], m = w->nibbles ? sj[GROUP + i] : 0;
                const float v = w->nibbles ? (float)((j < 16 ? (q[j] & 15) : (q[j - 16] >> 4)) | high_bits(q, w->highBits, j))
                                           : (float)(int8_t)q[j];
                o[b * 32 + j] = fmaf(d, v, m);
            }
        }
    }
}

void proxima_packed_matvec_portable(const proxima_packed_matrix *w, int64_t row0, int64_t row1,
                                    const float *x, int64_t xStride, int64_t vectors, float *y, int64_t yStride) {
    if (row0 >= row1 || vectors <= 0) return;
    const int64_t cols = w->blocksPerRow * 32;
    float row[cols];
    for (int64_t r = row0; r < row1; r++) {
        proxima_packed_dequantize_rows(w, r, r + 1, row);
        for (int64_t v = 0; v < vectors; v++) {
            const float *xv = x + v * xStride;
            float acc = 0;
            for (int64_t c = 0; c < cols; c++) acc += row[c] * xv[c];
            y[v * yStride + r] = acc;
        }
    }
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>

/// The 16 nibbles of one Q4 block row, looked up in `table` (16 floats): values 0–15 of the block in `lo`, 16–31 in
/// `hi`. vpermps reads only the low 4 bits of each index, so the low nibble needs no mask; with the table
/// d·k + m (k = 0…15) this is the block's dequantisation, exactly the fma(d, q, m) of each weight, in two lookups
/// instead of a mask, two conversions and two FMAs.
static inline __attribute__((always_inline)) void lookup_nibbles(const uint8_t *q, __m512 table, __m512 *lo, __m512 *hi) {
    const __m512i w = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
    *lo = _mm512_permutexvar_ps(w, table);
    *hi = _mm512_permutexvar_ps(_mm512_srli_epi32(w, 4), table);
}

/// 0, 1, …, 15: the table that turns nibbles into their integer values.
static inline __attribute__((always_inline)) __m512 nibble_values(void) {
    return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

/// The 32 quants of one block as two vectors of floats (values 0–15 and 16–31), not yet scaled; `hb` planes of
/// high bits add 16 (and 32) where their bits are set.
static inline __attribute__((always_inline)) void widen(const uint8_t *q, int nibbles, int hb, __m512 *lo, __m512 *hi) {
    if (nibbles && hb == 0) {
        lookup_nibbles(q, nibble_values(), lo, hi);
    } else if (nibbles) {
        const __m512i w = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
        __m512i l = _mm512_and_si512(w, _mm512_set1_epi32(15)), h = _mm512_srli_epi32(w, 4);
        for (int p = 0; p < hb; p++) {
            uint32_t plane;
            memcpy(&plane, q + 16 + 4 * p, 4);
            const __m512i add = _mm512_set1_epi32(16 << p);
            l = _mm512_mask_add_epi32(l, (__mmask16)(plane & 0xFFFF), l, add);
            h = _mm512_mask_add_epi32(h, (__mmask16)(plane >> 16), h, add);
        }
        *lo = _mm512_cvtepi32_ps(l);
        *hi = _mm512_cvtepi32_ps(h);
    } else {
        *lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q)));
        *hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + 16))));
    }
}

/// The 32 weights of row i of a group's block, dequantised: d·q + m (nibbles, with the second half's own d and m
/// when `split`) or d·q (bytes); `q` is that row's quants, `s` the block's scales.
static inline __attribute__((always_inline)) void dequantise_block(const uint8_t *q, const float *s, int nibbles, int hb, int split,
                                                                   int i, __m512 *lo, __m512 *hi) {
    const __m512 d = _mm512_set1_ps(s[i]);
    if (nibbles && hb == 0 && !split) {
        lookup_nibbles(q, _mm512_fmadd_ps(d, nibble_values(), _mm512_set1_ps(s[GROUP + i])), lo, hi);
    } else if (nibbles) {
        const float *s2 = s + (split ? 2 * GROUP : 0);
        widen(q, 1, hb, lo, hi);
        *lo = _mm512_fmadd_ps(d, *lo, _mm512_set1_ps(s[GROUP + i]));
        *hi = _mm512_fmadd_ps(_mm512_set1_ps(s2[i]), *hi, _mm512_set1_ps(s2[GROUP + i]));
    } else {
        widen(q, 0, 0, lo, hi);
        *lo = _mm512_mul_ps(d, *lo);
        *hi = _mm512_mul_ps(split ? _mm512_set1_ps(s[2 * GROUP + i]) : d, *hi);
    }
}

/// One group × one vector. `blockSums[b]` = Σ of block b of x (used for the offsets); with `split`, the sums of
/// its halves: blockSums[2b], blockSums[2b + 1].
static inline __attribute__((always_inline)) void group_one(const uint8_t *q, const float *s, int64_t nb, int nibbles, int hb,
                                                            int split, const float *x, const float *blockSums, float out[GROUP]) {
    const int64_t qb = quant_bytes(nibbles, hb), sc = scale_count(nibbles, split), stride = GROUP * qb;
    __m512 acc[GROUP];
    for (int i = 0; i < GROUP; i++) acc[i] = _mm512_setzero_ps();
    __m128 offsets = _mm_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *qg = q + b * stride;
        _mm_prefetch((const char *)(qg + 1024), _MM_HINT_T0);
        const __m512 x0 = _mm512_loadu_ps(x + b * 32), x1 = _mm512_loadu_ps(x + b * 32 + 16);
        for (int i = 0; i < GROUP; i++) {
            __m512 lo, hi;
            widen(qg + i * qb, nibbles, hb, &lo, &hi);
            if (split) {
                acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(s[b * sc + i]), _mm512_mul_ps(lo, x0), acc[i]);
                acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(s[b * sc + 2 * GROUP + i]), _mm512_mul_ps(hi, x1), acc[i]);
            } else {
                const __m512 partial = _mm512_fmadd_ps(hi, x1, _mm512_mul_ps(lo, x0));
                acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(s[b * sc + i]), partial, acc[i]);
            }
        }
        if (split) {
            offsets = _mm_fmadd_ps(_mm_loadu_ps(s + b * sc + GROUP), _mm_set1_ps(blockSums[2 * b]), offsets);
            offsets = _mm_fmadd_ps(_mm_loadu_ps(s + b * sc + 3 * GROUP), _mm_set1_ps(blockSums[2 * b + 1]), offsets);
        } else if (nibbles) {
            offsets = _mm_fmadd_ps(_mm_loadu_ps(s + b * sc + GROUP), _mm_set1_ps(blockSums[b]), offsets);
        }
    }
    float m[GROUP];
    _mm_storeu_ps(m, offsets);
    for (int i = 0; i < GROUP; i++) out[i] = _mm512_reduce_add_ps(acc[i]) + (nibbles ? m[i] : 0);
}

/// Lane k of the result = the sum of the lanes of v[k]: sixteen horizontal sums in one transposing tree
/// (46 instructions where sixteen separate reductions take 128).
static inline __attribute__((always_inline)) __m512 reduce16(const __m512 v[16]) {
    __m512 t[8], u[4];
    for (int i = 0; i < 8; i++)   // 256-bit halves: v[2i] in the low half, v[2i + 1] in the high one
        t[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44), _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
    for (int j = 0; j < 4; j++)   // 128-bit lane L: v[4j + L]
        u[j] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * j], t[2 * j + 1], 0x88), _mm512_shuffle_f32x4(t[2 * j], t[2 * j + 1], 0xDD));
    const __m512 w0 = _mm512_add_ps(_mm512_unpacklo_ps(u[0], u[1]), _mm512_unpackhi_ps(u[0], u[1]));
    const __m512 w1 = _mm512_add_ps(_mm512_unpacklo_ps(u[2], u[3]), _mm512_unpackhi_ps(u[2], u[3]));
    const __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(w0), _mm512_castps_pd(w1));
    const __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(w0), _mm512_castps_pd(w1));
    const __m512 r = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));   // element 4L + e: v[4e + L]
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), r);
}

/// Rows r0 ..< r0 + rows of a group × n vectors, `rows` and `n` constants after inlining (4 rows × 2–4 vectors
/// or 2 rows × 4–8 vectors: at most 16 accumulators in registers); out[v·rows + i] is row r0 + i, vector v.
static inline __attribute__((always_inline)) void tile_many(const uint8_t *q, const float *s, int64_t nb, int nibbles, int hb,
                                                            int split, int r0, int rows, const float *x, int64_t xStride, int n,
                                                            float out[16]) {
    const int64_t qb = quant_bytes(nibbles, hb), sc = scale_count(nibbles, split), stride = GROUP * qb;
    __m512 acc[16];
    for (int k = 0; k < n * rows; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *qg = q + b * stride;
        _mm_prefetch((const char *)(qg + 1024), _MM_HINT_T0);
        __m512 w0[GROUP], w1[GROUP];
        for (int i = 0; i < rows; i++) dequantise_block(qg + (r0 + i) * qb, s + b * sc, nibbles, hb, split, r0 + i, &w0[i], &w1[i]);
        for (int v = 0; v < n; v++) {
            const float *xv = x + v * xStride + b * 32;
            const __m512 x0 = _mm512_loadu_ps(xv), x1 = _mm512_loadu_ps(xv + 16);
            for (int i = 0; i < rows; i++) {
                acc[v * rows + i] = _mm512_fmadd_ps(w1[i], x1, _mm512_fmadd_ps(w0[i], x0, acc[v * rows + i]));
            }
        }
    }
    // A full chunk of 8 vectors sums its 16 accumulators in one transposing tree.
    if (n == 8) { _mm512_storeu_ps(out, reduce16(acc)); return; }
    for (int k = 0; k < n * rows; k++) out[k] = _mm512_reduce_add_ps(acc[k]);
}

/// Columns of a group dequantised at a time for many vectors (4 rows × this many floats on the stack).
#define DEQUANT_COLS 2048

/// Dequantises blocks [b0, b1) of the 4 rows of a group into w[row][column − 32·b0], 32·(b1 − b0) per row.
static inline __attribute__((always_inline)) void dequantise_group(const uint8_t *q, const float *s, int nibbles, int hb, int split,
                                                                   int64_t b0, int64_t b1, float *w) {
    const int64_t qb = quant_bytes(nibbles, hb), sc = scale_count(nibbles, split), stride = GROUP * qb;
    for (int64_t b = b0; b < b1; b++) {
        for (int i = 0; i < GROUP; i++) {
            __m512 lo, hi;
            dequantise_block(q + b * stride + i * qb, s + b * sc, nibbles, hb, split, i, &lo, &hi);
            float *dst = w + i * (b1 - b0) * 32 + (b - b0) * 32;
            _mm512_storeu_ps(dst, lo);
            _mm512_storeu_ps(dst + 16, hi);
        }
    }
}

/// Vectors per register tile of the dense loop (4 rows × 6 vectors = 24 accumulators).
#define DENSE_VECTORS 6

/// out[v][i] = Σ_c w[i][c] · x_v[c] over `cols` columns (w's row length) for n ≤ 6 vectors (a constant after
/// inlining).
static inline __attribute__((always_inline)) void dense_group(const float *w, int64_t cols, const float *x,
                                                              int64_t xStride, int n, float out[DENSE_VECTORS][GROUP]) {
    __m512 acc[DENSE_VECTORS][GROUP];
    for (int v = 0; v < n; v++)
        for (int i = 0; i < GROUP; i++) acc[v][i] = _mm512_setzero_ps();
    for (int64_t c = 0; c < cols; c += 16) {
        __m512 wi[GROUP];
        for (int i = 0; i < GROUP; i++) wi[i] = _mm512_loadu_ps(w + i * cols + c);
        for (int v = 0; v < n; v++) {
            const __m512 xv = _mm512_loadu_ps(x + v * xStride + c);
            for (int i = 0; i < GROUP; i++) acc[v][i] = _mm512_fmadd_ps(wi[i], xv, acc[v][i]);
        }
    }
    for (int v = 0; v < n; v++)
        for (int i = 0; i < GROUP; i++) out[v][i] = _mm512_reduce_add_ps(acc[v][i]);
}

/// Many vectors: each group is dequantised (in column chunks) into fp32 rows that serve a block of vectors
/// small enough to stay in L2 (≈ 256 KB of x), so the weights are read once per block of vectors.
static inline __attribute__((always_inline)) void matmul(const proxima_packed_matrix *w, int nibbles, int hb, int split,
                                                         int64_t row0, int64_t row1, const float *x, int64_t xStride,
                                                         int64_t vectors, float *y, int64_t yStride) {
    const int64_t nb = w->blocksPerRow, qb = quant_bytes(nibbles, hb), sc = scale_count(nibbles, split);
    const int64_t chunkBlocks = DEQUANT_COLS / 32;
    const int64_t vectorBlock = (65536 / (nb * 32) / DENSE_VECTORS + 1) * DENSE_VECTORS;
    float dense[GROUP * DEQUANT_COLS] __attribute__((aligned(64)));
    for (int64_t vb = 0; vb < vectors; vb += vectorBlock) {
        const int64_t vEnd = min64(vectors, vb + vectorBlock);
        for (int64_t g = row0 / GROUP; g * GROUP < row1; g++) {
            const uint8_t *q = w->quants + g * nb * GROUP * qb;
            const float *s = w->scales + g * nb * sc;
            for (int64_t b0 = 0; b0 < nb; b0 += chunkBlocks) {
                const int64_t b1 = min64(nb, b0 + chunkBlocks), cols = (b1 - b0) * 32;
                dequantise_group(q, s, nibbles, hb, split, b0, b1, dense);
                for (int64_t v0 = vb; v0 < vEnd; v0 += DENSE_VECTORS) {
                    const float *xv = x + v0 * xStride + b0 * 32;
                    float out[DENSE_VECTORS][GROUP];
                    const int64_t n = min64(DENSE_VECTORS, vEnd - v0);
                    switch (n) {
                    case 1: dense_group(dense, cols, xv, xStride, 1, out); break;
                    case 2: dense_group(dense, cols, xv, xStride, 2, out); break;
                    case 3: dense_group(dense, cols, xv, xStride, 3, out); break;
                    case 4: dense_group(dense, cols, xv, xStride, 4, out); break;
                    case 5: dense_group(dense, cols, xv, xStride, 5, out); break;
                    default: dense_group(dense, cols, xv, xStride, 6, out); break;
                    }
                    for (int64_t v = 0; v < n; v++) store_rows(out[v], g * GROUP, GROUP, row0, row1, y + (v0 + v) * yStride, b0 > 0);
                }
            }
        }
    }
}

static inline __attribute__((always_inline)) void matvec(const proxima_packed_matrix *w, int nibbles, int hb, int split,
                                                         int64_t row0, int64_t row1, const float *x, int64_t xStride,
                                                         int64_t vectors, float *y, int64_t yStride) {
    const int64_t nb = w->blocksPerRow, qb = quant_bytes(nibbles, hb), sc = scale_count(nibbles, split);
    const int64_t g0 = row0 / GROUP, g1 = (row1 + GROUP - 1) / GROUP;
    if (vectors == 1) {
        float blockSums[split ? 2 * nb : nb];
        for (int64_t b = 0; b < nb; b++) {
            const __m512 x0 = _mm512_loadu_ps(x + b * 32), x1 = _mm512_loadu_ps(x + b * 32 + 16);
            if (split) {
                blockSums[2 * b] = _mm512_reduce_add_ps(x0);
                blockSums[2 * b + 1] = _mm512_reduce_add_ps(x1);
            } else {
                blockSums[b] = _mm512_reduce_add_ps(_mm512_add_ps(x0, x1));
            }
        }
        for (int64_t g = g0; g < g1; g++) {
            float out[GROUP];
            group_one(w->quants + g * nb * GROUP * qb, w->scales + g * nb * sc, nb, nibbles, hb, split, x, blockSums, out);
            store_rows(out, g * GROUP, GROUP, row0, row1, y, 0);
        }
        return;
    }
    if (vectors > MANY_VECTORS) { matmul(w, nibbles, hb, split, row0, row1, x, xStride, vectors, y, yStride); return; }
    if (vectors <= 4) {   // the 4 rows of a group at once
        for (int64_t g = g0; g < g1; g++) {
            const uint8_t *q = w->quants + g * nb * GROUP * qb;
            const float *s = w->scales + g * nb * sc;
            float out[16];
            switch (vectors) {
            case 2: tile_many(q, s, nb, nibbles, hb, split, 0, GROUP, x, xStride, 2, out); break;
            case 3: tile_many(q, s, nb, nibbles, hb, split, 0, GROUP, x, xStride, 3, out); break;
            default: tile_many(q, s, nb, nibbles, hb, split, 0, GROUP, x, xStride, 4, out); break;
            }
            for (int64_t v = 0; v < vectors; v++) store_rows(out + v * GROUP, g * GROUP, GROUP, row0, row1, y + v * yStride, 0);
        }
        return;
    }
    // 5–16 vectors: 2 rows at a time, which forms each row's weights half as often per vector, with the vectors in
    // chunks of at most 8, as even as possible (10 → 5 + 5, not 8 + 2).
    const int64_t chunks = (vectors + 7) / 8, per = (vectors + chunks - 1) / chunks;
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *q = w->quants + g * nb * GROUP * qb;
        const float *s = w->scales + g * nb * sc;
        for (int r0 = 0; r0 < GROUP; r0 += 2) {
            const int64_t r = g * GROUP + r0;
            if (r + 2 <= row0 || r >= row1) continue;
            for (int64_t v0 = 0; v0 < vectors; v0 += per) {
                const float *xv = x + v0 * xStride;
                const int64_t n = min64(per, vectors - v0);
                float out[16];
                switch (n) {   // 4 ≤ n ≤ 8
                case 4: tile_many(q, s, nb, nibbles, hb, split, r0, 2, xv, xStride, 4, out); break;
                case 5: tile_many(q, s, nb, nibbles, hb, split, r0, 2, xv, xStride, 5, out); break;
                case 6: tile_many(q, s, nb, nibbles, hb, split, r0, 2, xv, xStride, 6, out); break;
                case 7: tile_many(q, s, nb, nibbles, hb, split, r0, 2, xv, xStride, 7, out); break;
                default: tile_many(q, s, nb, nibbles, hb, split, r0, 2, xv, xStride, 8, out); break;
                }
                for (int64_t v = 0; v < n; v++) store_rows(out + v * 2, r, 2, row0, row1, y + (v0 + v) * yStride, 0);
            }
        }
    }
}

void proxima_packed_matvec(const proxima_packed_matrix *w, int64_t row0, int64_t row1,
                           const float *x, int64_t xStride, int64_t vectors, float *y, int64_t yStride) {
    if (row0 >= row1 || vectors <= 0) return;
    // One specialisation per layout in use: Q8_0/Q5_0, Q6_K, Q4_0/Q4_1/Q4_K, Q5_1/Q5_K.
    if (!w->nibbles && !w->split) matvec(w, 0, 0, 0, row0, row1, x, xStride, vectors, y, yStride);
    else if (!w->nibbles) matvec(w, 0, 0, 1, row0, row1, x, xStride, vectors, y, yStride);
    else if (w->highBits == 0 && !w->split) matvec(w, 1, 0, 0, row0, row1, x, xStride, vectors, y, yStride);
    else if (w->highBits == 1 && !w->split) matvec(w, 1, 1, 0, row0, row1, x, xStride, vectors, y, yStride);
    else proxima_packed_matvec_portable(w, row0, row1, x, xStride, vectors, y, yStride);
}

#elif !(defined(__AVX2__) && defined(__FMA__))

void proxima_packed_matvec(const proxima_packed_matrix *w, int64_t row0, int64_t row1,
                           const float *x, int64_t xStride, int64_t vectors, float *y, int64_t yStride) {
    proxima_packed_matvec_portable(w, row0, row1, x, xStride, vectors, y, yStride);
}

#endif
