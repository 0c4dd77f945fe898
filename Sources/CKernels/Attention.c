// Decode attention for one query row and one key/value head: the query heads that share that head
// (grouped-query attention) read each key and each value once between them, not once each.
#include "ProximaKernels.h"

/// Query heads handled together: their accumulators (4 per head at a head width of 64) stay in registers.
#define HEADS_PER_PASS 4

static void scores_portable(const float *q, const float *keys, int64_t kvStride, int64_t count, int64_t group,
                            int64_t headDim, float scale, float *scores) {
    for (int64_t j = 0; j < count; j++) {
        const float *k = keys + j * kvStride;
        for (int64_t g = 0; g < group; g++) {
            float acc = 0;
            for (int64_t d = 0; d < headDim; d++) acc += q[g * headDim + d] * k[d];
            scores[g * count + j] = acc * scale;
        }
    }
}

static void mix_portable(const float *probs, const float *values, int64_t kvStride, int64_t count, int64_t group,
                         int64_t headDim, float *out) {
    for (int64_t i = 0; i < group * headDim; i++) out[i] = 0;
    for (int64_t j = 0; j < count; j++) {
        const float *v = values + j * kvStride;
        for (int64_t g = 0; g < group; g++) {
            const float p = probs[g * count + j];
            for (int64_t d = 0; d < headDim; d++) out[g * headDim + d] += p * v[d];
        }
    }
}

#if defined(__AVX512F__)
#include <immintrin.h>

/// The 64 floats of one key or value row.
static inline __attribute__((always_inline)) void load_row(const float *row, __m512 out[4]) {
    for (int i = 0; i < 4; i++) out[i] = _mm512_loadu_ps(row + 16 * i);
}

/// Head width 64, `n` ≤ HEADS_PER_PASS query heads (a constant after inlining).
static inline __attribute__((always_inline)) void scores_64(const float *q, const float *keys, int64_t kvStride,
                                                            int64_t count, int n, float scale, float *scores) {
    __m512 qv[HEADS_PER_PASS][4];
    for (int g = 0; g < n; g++)
        for (int i = 0; i < 4; i++) qv[g][i] = _mm512_loadu_ps(q + g * 64 + i * 16);
    for (int64_t j = 0; j < count; j++) {
        __m512 k[4];
        load_row(keys + j * kvStride, k);
        for (int g = 0; g < n; g++) {
            __m512 a = _mm512_fmadd_ps(qv[g][1], k[1], _mm512_mul_ps(qv[g][0], k[0]));
            a = _mm512_fmadd_ps(qv[g][3], k[3], _mm512_fmadd_ps(qv[g][2], k[2], a));
            scores[g * count + j] = _mm512_reduce_add_ps(a) * scale;
        }
    }
}

static inline __attribute__((always_inline)) void mix_64(const float *probs, const float *values, int64_t kvStride,
                                                         int64_t count, int n, float *out) {
    __m512 acc[HEADS_PER_PASS][4];
    for (int g = 0; g < n; g++)
        for (int i = 0; i < 4; i++) acc[g][i] = _mm512_setzero_ps();
    for (int64_t j = 0; j < count; j++) {
        __m512 v[4];
        load_row(values + j * kvStride, v);
        for (int g = 0; g < n; g++) {
            const __m512 p = _mm512_set1_ps(probs[g * count + j]);
            for (int i = 0; i < 4; i++) acc[g][i] = _mm512_fmadd_ps(p, v[i], acc[g][i]);
        }
    }
    for (int g = 0; g < n; g++)
        for (int i = 0; i < 4; i++) _mm512_storeu_ps(out + g * 64 + i * 16, acc[g][i]);
}

#define DISPATCH_64(call)            \
    switch (n) {                     \
    case 1: call(1); break;          \
    case 2: call(2); break;          \
    case 3: call(3); break;          \
    default: call(4); break;         \
    }
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/// Head widths that are a multiple of 8, without AVX-512: each score is an 8-wide FMA chain, summed once.
static void scores_avx2(const float *q, const float *keys, int64_t kvStride, int64_t count, int64_t group,
                        int64_t headDim, float scale, float *scores) {
    for (int64_t j = 0; j < count; j++) {
        const float *k = keys + j * kvStride;
        for (int64_t g = 0; g < group; g++) {
            __m256 a = _mm256_setzero_ps();
            for (int64_t d = 0; d < headDim; d += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * headDim + d), _mm256_loadu_ps(k + d), a);
            __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
            s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            s = _mm_add_ss(s, _mm_movehdup_ps(s));
            scores[g * count + j] = _mm_cvtss_f32(s) * scale;
        }
    }
}
#endif

void proxima_attention_scores(const float *q, const float *keys, int64_t kvStride, int64_t count, int64_t group,
                              int64_t headDim, float scale, float *scores) {
#if defined(__AVX512F__)
    if (headDim == 64) {
        for (int64_t g0 = 0; g0 < group; g0 += HEADS_PER_PASS) {
            const int n = (int)(group - g0 < HEADS_PER_PASS ? group - g0 : HEADS_PER_PASS);
#define SCORES(N) scores_64(q + g0 * 64, keys, kvStride, count, N, scale, scores + g0 * count)
            DISPATCH_64(SCORES)
#undef SCORES
        }
        return;
    }
#elif defined(__AVX2__) && defined(__FMA__)
    if (headDim % 8 == 0) return scores_avx2(q, keys, kvStride, count, group, headDim, scale, scores);
#endif
    scores_portable(q, keys, kvStride, count, group, headDim, scale, scores);
}

void proxima_attention_mix(const float *probs, const float *values, int64_t kvStride, int64_t count, int64_t group,
                           int64_t headDim, float *out) {
#if defined(__AVX512F__)
    if (headDim == 64) {
        for (int64_t g0 = 0; g0 < group; g0 += HEADS_PER_PASS) {
            const int n = (int)(group - g0 < HEADS_PER_PASS ? group - g0 : HEADS_PER_PASS);
#define MIX(N) mix_64(probs + g0 * count, values, kvStride, count, N, out + g0 * 64)
            DISPATCH_64(MIX)
#undef MIX
        }
        return;
    }
#endif
    mix_portable(probs, values, kvStride, count, group, headDim, out);
}
