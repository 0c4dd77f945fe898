// gemm_shapes: OpenBLAS sgemm on the shapes of Proxima's training step (bench/train.py's configuration:
// E=5 members, 4 micro-batches of 4 pairs = 1,016 rows (64 + 96 + 96 − 2 each) with 768 logit rows, 30 layers
// of SmolLM2-135M, LoRA rank 16 on all seven linear layers), timed the way Proxima's pool runs them (BLAS.swift:
// split along M, or along N when M is small, over two threads, OpenBLAS single-threaded in each), and, for the
// large shapes, also split along N (BLAS.swift's rule for them before 1a26d15) and with OpenBLAS's own 2 threads.
// It ends with what the step's GEMMs cost at the pool's rates, counted per step: a floor for the step's time on
// this machine. Build and run from the repository root:
//   cc -O2 bench/blas/gemm_shapes.c -o bench/out/gemm_shapes -lopenblas -lpthread
//   OPENBLAS_CORETYPE=SkylakeX bench/out/gemm_shapes
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/// C[M×N] (+)= op(A)·op(B), row-major; op(A) is M×K (A stored K×M when transA), op(B) is K×N (B stored N×K
/// when transB); rows [m0, m1) and columns [n0, n1) of C.
typedef struct { int transA, transB, m, n, k; float beta; const float *a, *b; float *c; int m0, m1, n0, n1; } Part;

static void *multiply(void *arg) {
    const Part *p = arg;
    const int lda = p->transA ? p->m : p->k, ldb = p->transB ? p->k : p->n;
    const float *a = p->transA ? p->a + p->m0 : p->a + (long)p->m0 * lda;
    const float *b = p->transB ? p->b + (long)p->n0 * ldb : p->b + p->n0;
    cblas_sgemm(CblasRowMajor, p->transA ? CblasTrans : CblasNoTrans, p->transB ? CblasTrans : CblasNoTrans,
                p->m1 - p->m0, p->n1 - p->n0, p->k, 1, a, lda, b, ldb, p->beta, p->c + (long)p->m0 * p->n + p->n0, p->n);
    return NULL;
}

/// Each way of running a shape is timed TURNS times for at least TURN_SECONDS each.
#define TURNS 4
#define TURN_SECONDS 0.15

/// How a call is spread over two threads.
enum { POOL_SPLIT, OPENBLAS_THREADS, COLUMN_SPLIT };

/// Seconds per call of one shape: POOL_SPLIT as BLAS.swift splits it over two pthreads, OPENBLAS_THREADS with
/// OpenBLAS's own threads, COLUMN_SPLIT with the columns of C split over two pthreads whatever the shape.
static double seconds(int transA, int transB, int m, int n, int k, float beta, int mode) {
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n), *c = malloc(sizeof(float) * m * n);
    for (long i = 0; i < (long)m * k; i++) a[i] = 0.001f * (i % 7);
    for (long i = 0; i < (long)k * n; i++) b[i] = 0.001f * (i % 5);
    for (long i = 0; i < (long)m * n; i++) c[i] = 0;
    openblas_set_num_threads(mode == OPENBLAS_THREADS ? 2 : 1);
    Part whole = {transA, transB, m, n, k, beta, a, b, c, 0, m, 0, n};
    int reps = 0;
    double t0 = now(), t;
    do {
        if (mode == OPENBLAS_THREADS || (long)m * n * k < (1 << 16)) {
            multiply(&whole);
        } else {
            Part left = whole, right = whole;
            if (mode == POOL_SPLIT && (m >= 128 || m >= n)) {
                left.m1 = right.m0 = ((m + 1) / 2 + 15) / 16 * 16;
            } else {
                left.n1 = right.n0 = ((n + 1) / 2 + 15) / 16 * 16;
            }
            pthread_t other;
            pthread_create(&other, NULL, multiply, &right);
            multiply(&left);
            pthread_join(other, NULL);
        }
        reps++;
    } while ((t = now() - t0) < TURN_SECONDS);
    free(a); free(b); free(c);
    return t / reps;
}

/// Times one shape, prints its rates, and returns its seconds per step (`calls` per step) at the pool's split.
/// The VM's speed drifts within seconds, so each way of running the shape is timed in several short turns,
/// interleaved with the others, and its best turn counts (drift only ever slows a turn down).
static double shape(const char *name, int transA, int transB, int m, int n, int k, float beta, long calls, int compare) {
    const int modes = compare ? 3 : 1;
    double best[3] = {1e30, 1e30, 1e30};
    for (int turn = 0; turn < TURNS; turn++) {
        for (int mode = 0; mode < modes; mode++) {
            const double s = seconds(transA, transB, m, n, k, beta, mode);
            if (s < best[mode]) best[mode] = s;
        }
    }
    const double flop = 2.0 * m * n * k;
    printf("%-30s M=%5d N=%5d K=%5d  split %6.1f GFLOP/s", name, m, n, k, flop / best[POOL_SPLIT] * 1e-9);
    if (compare) {
        printf("  columns split %6.1f  OpenBLAS threads %6.1f", flop / best[COLUMN_SPLIT] * 1e-9,
               flop / best[OPENBLAS_THREADS] * 1e-9);
    }
    printf("  × %4ld per step = %5.1f s\n", calls, best[POOL_SPLIT] * calls);
    fflush(stdout);
    return best[POOL_SPLIT] * calls;
}

int main(void) {
    const int rows = 1016, logitRows = 768, rank = 16, dim = 576, kv = 192, ffn = 1536, vocab = 49152;
    const long perLayer = 5L * 4 * 30, perMicro = 5L * 4;
    // The seven linear layers: input and output widths, how many of each per layer.
    const struct { const char *name; int in, out, count; } linear[] = {
        {"q, o", dim, dim, 2}, {"k, v", dim, kv, 2}, {"gate, up", dim, ffn, 2}, {"down", ffn, dim, 1},
    };
    double base = 0, lora = 0, head = 0;
    char name[64];
    for (int i = 0; i < 4; i++) {
        const int in = linear[i].in, out = linear[i].out;
        const long calls = perLayer * linear[i].count;
        snprintf(name, sizeof name, "forward x.W^T (%s)", linear[i].name);
        base += shape(name, 0, 1, rows, out, in, 0, calls, 1);
        snprintf(name, sizeof name, "backward dy.W (%s)", linear[i].name);
        base += shape(name, 0, 0, rows, in, out, 1, calls, 1);
        // LoRA: u = x·Aᵀ, y += s·u·Bᵀ; dB += s·dyᵀ·u, dU = s·dy·B, dA += dUᵀ·x, dx += dU·A.
        const struct { const char *product; int transA, transB, m, n, k; float beta; } products[] = {
            {"x.A^T", 0, 1, rows, rank, in, 0}, {"u.B^T", 0, 1, rows, out, rank, 1}, {"dy^T.u", 1, 0, out, rank, rows, 1},
            {"dy.B", 0, 0, rows, rank, out, 0}, {"dU^T.x", 1, 0, rank, in, rows, 1}, {"dU.A", 0, 0, rows, in, rank, 1},
        };
        for (int j = 0; j < 6; j++) {
            snprintf(name, sizeof name, "LoRA (%s) %s", linear[i].name, products[j].product);
            lora += shape(name, products[j].transA, products[j].transB, products[j].m, products[j].n, products[j].k,
                          products[j].beta, calls, 0);
        }
    }
    head += shape("head forward", 0, 1, logitRows, vocab, dim, 0, perMicro, 1);
    head += shape("head backward", 0, 0, logitRows, dim, vocab, 0, perMicro, 1);
    printf("\nOne training step's GEMMs at the split rates above (attention's excluded): base weights %.1f s, "
           "output head %.1f s, LoRA %.1f s; total %.1f s\n", base, head, lora, base + head + lora);
    return 0;
}
