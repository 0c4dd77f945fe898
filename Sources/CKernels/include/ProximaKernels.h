// ProximaKernels: y = W·x over block-quantised weights for one vector (decode) or many (prefill, batches), and
// decode attention, in C so that the inner loops are exactly the instructions we choose (AVX-512 or AVX2 when the
// build targets it, portable C otherwise). fp32 activations and accumulation throughout: the results are the dot products with
// the dequantised weights d·q + m.
#ifndef PROXIMA_KERNELS_H
#define PROXIMA_KERNELS_H

#include <stdint.h>

/// Rows are stored in groups of this many, interleaved block by block, so that one pass reads one stream.
#define PROXIMA_GROUP_ROWS 4

/// A block-quantised matrix in decode layout (rows padded with zeros to whole groups), 32-value blocks.
/// - nibbles: quants [group][block][row in group][16 bytes of nibbles, then highBits planes of 4 bytes]: the low
///   nibble of byte j is bits 0–3 of value j, the high nibble those of value j + 16, and bit j of plane p is bit
///   4 + p of value j (Q4_0, Q4_1, Q4_K: no planes; Q5_1, Q5_K: one), so q = 0…15 or 0…31;
///   scales [group][block][d₀ d₁ d₂ d₃ m₀ m₁ m₂ m₃] as fp32, value = d·q + m.
/// - bytes (Q8_0, Q5_0 as q − 16): quants [group][block][row in group][32 signed bytes]; scales [group][block][d₀ … d₃],
///   value = d·q.
/// - `split` (Q6_K as bytes q − 32, for its 16-value sub-blocks): the scales of values 16–31 of each block follow
///   as a second set: [d₀ … d₃ m₀ … m₃ d'₀ … d'₃ m'₀ … m'₃] (the m unused for bytes).
typedef struct {
    const uint8_t *quants;
    const float *scales;
    int64_t blocksPerRow;
    int32_t nibbles;
    int32_t highBits;
    int32_t split;
} proxima_packed_matrix;

/// y[v·yStride + r] = Σ_c W[r, c] · x[v·xStride + c] for rows row0 ≤ r < row1 and 0 ≤ v < vectors.
/// Rows outside [row0, row1) are not written. Uses the AVX-512 or AVX2 kernel when compiled for one.
void proxima_packed_matvec(const proxima_packed_matrix *w, int64_t row0, int64_t row1,
                           const float *x, int64_t xStride, int64_t vectors, float *y, int64_t yStride);

/// The same in portable C (the fallback on other CPUs; tests check it on every machine).
void proxima_packed_matvec_portable(const proxima_packed_matrix *w, int64_t row0, int64_t row1,
                                    const float *x, int64_t xStride, int64_t vectors, float *y, int64_t yStride);

/// out[(r − row0)·cols + c] = W[r, c] = d·q + m for rows row0 ≤ r < row1 (cols = 32 · blocksPerRow).
void proxima_packed_dequantize_rows(const proxima_packed_matrix *w, int64_t row0, int64_t row1, float *out);

// MARK: - Decode attention (Attention.c)

/// scores[g·count + j] = scale · q[g·headDim ..< (g+1)·headDim] · keys[j·kvStride ..< j·kvStride + headDim]
/// for the `group` query heads (rows of q, contiguous) that share one key head, and its keys 0 ≤ j < count.
void proxima_attention_scores(const float *q, const float *keys, int64_t kvStride, int64_t count, int64_t group,
                              int64_t headDim, float scale, float *scores);

/// out[g·headDim + d] = Σ_j probs[g·count + j] · values[j·kvStride + d] for the `group` query heads.
void proxima_attention_mix(const float *probs, const float *values, int64_t kvStride, int64_t count, int64_t group,
                           int64_t headDim, float *out);

// MARK: - Spinning

/// Tells the CPU this thread is spinning on a flag (x86 PAUSE, ARM YIELD): cheaper for the core and its sibling
/// than a bare loop, and unlike sched_yield it does not leave user space.
static inline void proxima_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
