// read_bandwidth: how fast one thread, or several, stream a buffer the size of the default model's decode weights
// (111,476,736 bytes: the packed layout reads 24 bytes per 32 Q4_1 weights of the 210 projections and 36 per 32
// Q8_0 weights of the head, per token) from DRAM with 64-byte loads and the decode kernel's prefetch distance
// (1 KiB ahead). The floor of one decode step's matrix products when the kernel keeps up with memory.
//
// Build and run from the repository root (on a CPU with AVX-512):
//   cc -O2 -march=native -pthread bench/blas/read_bandwidth.c -o bench/out/read_bandwidth
//   bench/out/read_bandwidth 1 && bench/out/read_bandwidth 2      # one thread, then two
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BYTES 111476736L
#define PREFETCH 1024
#define PASSES 20

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static const uint8_t *buffer;
static int threads;

/// Thread t reads its contiguous share PASSES times; returns a checksum so the loads are not dropped.
static void *stream(void *arg) {
    const long t = (long)arg, share = BYTES / threads / 64 * 64;
    __m512i acc = _mm512_setzero_si512();
    for (int pass = 0; pass < PASSES; pass++) {
        for (long i = t * share; i < (t + 1) * share; i += 64) {
            _mm_prefetch((const char *)(buffer + i + PREFETCH), _MM_HINT_T0);
            acc = _mm512_add_epi32(acc, _mm512_load_si512((const void *)(buffer + i)));
        }
    }
    return (void *)(intptr_t)_mm512_reduce_add_epi32(acc);
}

int main(int argc, char **argv) {
    threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 64) { fprintf(stderr, "usage: read_bandwidth [threads 1-64]\n"); return 2; }
    uint8_t *b = aligned_alloc(64, BYTES + PREFETCH);   // the prefetches run PREFETCH bytes past the last share
    if (!b) { fprintf(stderr, "out of memory\n"); return 1; }
    for (long i = 0; i < BYTES + PREFETCH; i++) b[i] = (uint8_t)i;
    buffer = b;
    long checksum = 0;
    for (int turn = 0; turn < 3; turn++) {
        pthread_t tid[64];
        const double t0 = now();
        for (long t = 1; t < threads; t++) pthread_create(&tid[t], NULL, stream, (void *)t);
        checksum += (long)(intptr_t)stream((void *)0);
        for (int t = 1; t < threads; t++) {
            void *r;
            pthread_join(tid[t], &r);
            checksum += (long)(intptr_t)r;
        }
        const double seconds = now() - t0;
        const double bytes = (double)PASSES * (BYTES / threads / 64 * 64) * threads;
        printf("%d thread%s: %.1f GB/s (%.2f ms per pass over %.1f MB)\n", threads, threads > 1 ? "s" : "",
               bytes / seconds * 1e-9, seconds / PASSES * 1e3, bytes / PASSES * 1e-6);
    }
    printf("(checksum %ld)\n", checksum);
    free(b);
    return 0;
}
