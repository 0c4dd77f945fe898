// y = W·x over the packed layout of ProximaKernels.h with AVX2 and FMA, for CPUs without AVX-512 (QuantMatVec.c has
// the AVX-512 and portable kernels). 1–2 vectors (decode): the 4 rows of a group at once, each block widened once;
// 3–4 vectors: each row's blocks widened once per 4 vectors; from 5 vectors on each group is dequantised once into
// fp32 rows served by a 4 rows × 3 vectors tile.
#include "QuantLayout.h"

#if !(defined(__AVX512F__) && defined(__AVX512BW__)) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

// MARK: - AVX2 (CPUs without AVX-512)

/// 16·2^p in the lanes of values 8k … 8k + 7 whose bit is set in plane p (8 bits from bit 8k).
static inline __m256i plane_bits(const uint8_t *q, int p, int k) {
    uint32_t plane;
    memcpy(&plane, q + 16 + 4 * p, 4);
    const __m256i bits = _mm256_and_si256(_mm256_set1_epi32((int)(plane >> (8 * k))), _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128));
    return _mm256_andnot_si256(_mm256_cmpeq_epi32(bits, _mm256_setzero_si256()), _mm256_set1_epi32(16 << p));
}

/// One block of one row widened to 4 × 8 fp32 weights d·q + m (values 0–7, 8–15, 16–23, 24–31; values 16–31 with
/// their own d and m for split layouts, and `hb` planes of high bits added to the nibbles): the same fma as the
/// portable dequantisation, so the weights are the same bit for bit.
static inline __attribute__((always_inline)) void widen_block(const uint8_t *q, int nibbles, int hb, __m256 d, __m256 m,
                                                              __m256 dHi, __m256 mHi, __m256 out[4]) {
    if (nibbles) {
        const __m128i bytes = _mm_loadu_si128((const __m128i *)q);
        const __m128i mask = _mm_set1_epi8(15);
        const __m128i lo = _mm_and_si128(bytes, mask), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
        __m256i v[4] = {_mm256_cvtepu8_epi32(lo), _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)),
                        _mm256_cvtepu8_epi32(hi), _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8))};
        for (int p = 0; p < hb; p++)
            for (int k = 0; k < 4; k++) v[k] = _mm256_add_epi32(v[k], plane_bits(q, p, k));
        out[0] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(v[0]), m);
        out[1] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(v[1]), m);
        out[2] = _mm256_fmadd_ps(dHi, _mm256_cvtepi32_ps(v[2]), mHi);
        out[3] = _mm256_fmadd_ps(dHi, _mm256_cvtepi32_ps(v[3]), mHi);
    } else {
        for (int k = 0; k < 4; k++) {
            const __m128i bytes = _mm_loadl_epi64((const __m128i *)(q + 8 * k));
            out[k] = _mm256_fmadd_ps(k < 2 ? d : dHi, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), k < 2 ? m : mHi);
        }
    }
}

static inline float sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Vectors per pass over a row: each block's weights are widened once per pass.
#define AVX2_VECTORS 4

/// Above this many vectors the AVX2 kernel dequantises each group once into fp32 rows.
#ifndef AVX2_MANY_VECTORS
#define AVX2_MANY_VECTORS 4
#endif

/// Columns of a group dequantised at a time for many vectors (4 rows × this many floats on the stack).
#define AVX2_DEQUANT_COLS 2048

/// Vectors per register tile of the dense loop: 4 rows × 3 vectors = 12 accumulators, the 3 vectors' columns
/// and one row's weights in the other 4 of the 16 registers.
#define AVX2_DENSE_VECTORS 3

/// out[v][i] = Σ_c w[i][c] · x_v[c] over `cols` columns (a multiple of 32) for n ≤ 3 vectors (a constant after
/// inlining).
static inline __attribute__((always_inline)) void dense_group_avx2(const float *w, int64_t cols, const float *x,
                                                                   int64_t xStride, int n, float out[AVX2_DENSE_VECTORS][GROUP]) {
    __m256 acc[AVX2_DENSE_VECTORS][GROUP];
    for (int v = 0; v < n; v++)
        for (int i = 0; i < GROUP; i++) acc[v][i] = _mm256_setzero_ps();
    for (int64_t c = 0; c < cols; c += 8) {
        __m256 xv[AVX2_DENSE_VECTORS];
        for (int v = 0; v < n; v++) xv[v] = _mm256_loadu_ps(x + v * xStride + c);
        for (int i = 0; i < GROUP; i++) {
            const __m256 wi = _mm256_loadu_ps(w + i * cols + c);
            for (int v = 0; v < n; v++) acc[v][i] = _mm256_fmadd_ps(wi, xv[v], acc[v][i]);
        }
    }
    for (int v = 0; v < n; v++)
        for (int i = 0; i < GROUP; i++) out[v][i] = sum8(acc[v][i]);
}

/// Many vectors (prefill): each group's 4 rows are widened once per block of vectors (in column chunks) into
/// fp32 rows on the stack, which the register tile then reads with the vectors: the loop is almost only FMAs.
/// A block of vectors is small enough (≈ 256 KB of x) to stay in L2 while the groups stream past it.
/// The 32 weights of row i of a group's block (scales `s`), as widen_block gives them.
static inline __attribute__((always_inline)) void widen_row_block(const uint8_t *q, const float *s, int nibbles, int hb, int split,
                                                                  int64_t i, __m256 out[4]) {
    const float *s2 = s + (split ? 2 * GROUP : 0);
    widen_block(q, nibbles, hb, _mm256_set1_ps(s[i]), _mm256_set1_ps(nibbles ? s[GROUP + i] : 0),
                _mm256_set1_ps(s2[i]), _mm256_set1_ps(nibbles ? s2[GROUP + i] : 0), out);
}

static inline __attribute__((always_inline)) void matmul_avx2(const proxima_packed_matrix *w, int nibbles, int hb, int split,
                                                              int64_t row0, int64_t row1, const float *x, int64_t xStride,
                                                              int64_t vectors, float *y, int64_t yStride) {
    const int64_t nb = w->blocksPerRow, qb = quant_bytes(nibbles, hb), sc = scale_count(nibbles, split), stride = GROUP * qb;
    const int64_t chunkBlocks = AVX2_DEQUANT_COLS / 32;
    const int64_t vectorBlock = (65536 / (nb * 32) / AVX2_DENSE_VECTORS + 1) * AVX2_DENSE_VECTORS;
    float dense[GROUP * AVX2_DEQUANT_COLS] __attribute__((aligned(32)));
    for (int64_t vb = 0; vb < vectors; vb += vectorBlock) {
        const int64_t vEnd = min64(vectors, vb + vectorBlock);
        for (int64_t g = row0 / GROUP; g * GROUP < row1; g++) {
            const uint8_t *q = w->quants + g * nb * GROUP * qb;
            const float *s = w->scales + g * nb * sc;
            for (int64_t b0 = 0; b0 < nb; b0 += chunkBlocks) {
                const int64_t b1 = min64(nb, b0 + chunkBlocks), cols = (b1 - b0) * 32;
                for (int64_t b = b0; b < b1; b++) {
                    for (int i = 0; i < GROUP; i++) {
                        __m256 wt[4];
                        widen_row_block(q + b * stride + i * qb, s + b * sc, nibbles, hb, split, i, wt);
                        float *dst = dense + i * cols + (b - b0) * 32;
                        for (int k = 0; k < 4; k++) _mm256_store_ps(dst + 8 * k, wt[k]);
                    }
                }
                for (int64_t v0 = vb; v0 < vEnd; v0 += AVX2_DENSE_VECTORS) {
                    const float *xv = x + v0 * xStride + b0 * 32;
                    float out[AVX2_DENSE_VECTORS][GROUP];
                    const int64_t n = min64(AVX2_DENSE_VECTORS, vEnd - v0);
                    switch (n) {
                    case 1: dense_group_avx2(dense, cols, xv, xStride, 1, out); break;
                    case 2: dense_group_avx2(dense, cols, xv, xStride, 2, out); break;
                    default: dense_group_avx2(dense, cols, xv, xStride, 3, out); break;
                    }
                    for (int64_t v = 0; v < n; v++) store_rows(out[v], g * GROUP, GROUP, row0, row1, y + (v0 + v) * yStride, b0 > 0);
                }
            }
        }
    }
}

static inline __attribute__((always_inline)) void matvec_avx2(const proxima_packed_matrix *w, int nibbles, int hb, int split,
                                                              int64_t row0, int64_t row1, const float *x, int64_t xStride,
                                                              int64_t vectors, float *y, int64_t yStride) {
    if (vectors > AVX2_MANY_VECTORS) { matmul_avx2(w, nibbles, hb, split, row0, row1, x, xStride, vectors, y, yStride); return; }
    const int64_t nb = w->blocksPerRow, qb = quant_bytes(nibbles, hb), sc = scale_count(nibbles, split);
    if (vectors <= 2) {   // the 4 rows of a group at once: one sequential stream of quants and one of scales
        for (int64_t g = row0 / GROUP; g * GROUP < row1; g++) {
            __m256 acc[2][GROUP];
            for (int v = 0; v < 2; v++)
                for (int i = 0; i < GROUP; i++) acc[v][i] = _mm256_setzero_ps();
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *q = w->quants + (g * nb + b) * GROUP * qb;
                const float *s = w->scales + (g * nb + b) * sc;
                _mm_prefetch((const char *)(q + 1024), _MM_HINT_T0);
                for (int i = 0; i < GROUP; i++) {
                    __m256 wt[4];
                    widen_row_block(q + i * qb, s, nibbles, hb, split, i, wt);
                    for (int v = 0; v < vectors; v++) {
                        const float *xv = x + v * xStride + b * 32;
                        __m256 a = _mm256_mul_ps(wt[0], _mm256_loadu_ps(xv));
                        a = _mm256_fmadd_ps(wt[1], _mm256_loadu_ps(xv + 8), a);
                        a = _mm256_fmadd_ps(wt[2], _mm256_loadu_ps(xv + 16), a);
                        acc[v][i] = _mm256_add_ps(acc[v][i], _mm256_fmadd_ps(wt[3], _mm256_loadu_ps(xv + 24), a));
                    }
                }
            }
            for (int v = 0; v < vectors; v++) {
                float out[GROUP];
                for (int i = 0; i < GROUP; i++) out[i] = sum8(acc[v][i]);
                store_rows(out, g * GROUP, GROUP, row0, row1, y + v * yStride, 0);
            }
        }
        return;
    }
    for (int64_t r = row0; r < row1; r++) {
        const int64_t g = r / GROUP, i = r % GROUP;
        for (int64_t v0 = 0; v0 < vectors; v0 += AVX2_VECTORS) {
            const int n = (int)min64(AVX2_VECTORS, vectors - v0);
            __m256 acc[AVX2_VECTORS][2];
            for (int v = 0; v < n; v++) acc[v][0] = acc[v][1] = _mm256_setzero_ps();
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *q = w->quants + ((g * nb + b) * GROUP + i) * qb;
                const float *s = w->scales + (g * nb + b) * sc;
                __m256 wt[4];
                widen_row_block(q, s, nibbles, hb, split, i, wt);
                for (int v = 0; v < n; v++) {
                    const float *xv = x + (v0 + v) * xStride + b * 32;
                    acc[v][0] = _mm256_fmadd_ps(wt[0], _mm256_loadu_ps(xv), acc[v][0]);
                    acc[v][1] = _mm256_fmadd_ps(wt[1], _mm256_loadu_ps(xv + 8), acc[v][1]);
                    acc[v][0] = _mm256_fmadd_ps(wt[2], _mm256_loadu_ps(xv + 16), acc[v][0]);
                    acc[v][1] = _mm256_fmadd_ps(wt[3], _mm256_loadu_ps(xv + 24), acc[v][1]);
                }
            }
            for (int v = 0; v < n; v++) y[(v0 + v) * yStride + r] = sum8(_mm256_add_ps(acc[v][0], acc[v][1]));
        }
    }
}

void proxima_packed_matvec(const proxima_packed_matrix *w, int64_t row0, int64_t row1,
                           const float *x, int64_t xStride, int64_t vectors, float *y, int64_t yStride) {
    if (row0 >= row1 || vectors <= 0) return;
    // One specialisation per layout in use: Q8_0/Q5_0, Q6_K, Q4_0/Q4_1/Q4_K, Q5_1/Q5_K.
    if (!w->nibbles && !w->split) matvec_avx2(w, 0, 0, 0, row0, row1, x, xStride, vectors, y, yStride);
    else if (!w->nibbles) matvec_avx2(w, 0, 0, 1, row0, row1, x, xStride, vectors, y, yStride);
    else if (w->highBits == 0 && !w->split) matvec_avx2(w, 1, 0, 0, row0, row1, x, xStride, vectors, y, yStride);
    else if (w->highBits == 1 && !w->split) matvec_avx2(w, 1, 1, 0, row0, row1, x, xStride, vectors, y, yStride);
    else proxima_packed_matvec_portable(w, row0, row1, x, xStride, vectors, y, yStride);
}

#endif
