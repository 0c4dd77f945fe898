// fma_peak: the fp32 FMA throughput of one core with AVX-512 (twelve independent chains of zmm FMAs), and of
// every core at once when run as several processes. The ceiling for batched decode, whose quantised kernel
// is FMA-bound from about 8 sequences on (docs/benchmarks.md).
//
// Build and run from the repository root (on a CPU with AVX-512):
//   cc -O2 -march=native bench/blas/fma_peak.c -o bench/out/fma_peak && bench/out/fma_peak
//   (bench/out/fma_peak & bench/out/fma_peak; wait)     # both cores at once
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/// Twelve independent chains (named, not an array, so that every compiler keeps them in registers): enough to
/// cover the FMA latency on two pipes.
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

int main(void) {
    const long iterations = 200000000;
#define DECLARE(i) __m512 acc##i = _mm512_set1_ps(i * 0.001f);
    CHAINS(DECLARE)
    const __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(0.0001f);
    for (int turn = 0; turn < 3; turn++) {
        const double t0 = now();
        for (long k = 0; k < iterations; k++) {
#define STEP(i) acc##i = _mm512_fmadd_ps(acc##i, b, c);
            CHAINS(STEP)
            // Keeps the loop from being folded away.
            __asm__ volatile("" : "+v"(acc0), "+v"(acc1), "+v"(acc2), "+v"(acc3), "+v"(acc4), "+v"(acc5),
                             "+v"(acc6), "+v"(acc7), "+v"(acc8), "+v"(acc9), "+v"(acc10), "+v"(acc11));
        }
        const double seconds = now() - t0, fmas = (double)iterations * 12;
        printf("zmm FMA: %.2f G/s, %.1f GFLOP/s on this core\n", fmas / seconds * 1e-9, fmas * 32 / seconds * 1e-9);
    }
    float sum = 0;
#define ADD(i) sum += _mm512_reduce_add_ps(acc##i);
    CHAINS(ADD)
    printf("(checksum %g)\n", sum);
    return 0;
}
