// gemm_shapes: OpenBLAS sgemm throughput on the shapes of Proxima's training step, on 2 threads, two ways:
// split along N over two pthreads with OpenBLAS single-threaded (what Proxima's ComputePool does), and one
// call with OpenBLAS's own 2 threads. It tells how close the training step's GEMMs are to this machine's
// limit. Build and run from the repository root:
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

typedef struct { int transB, m, n, k, n0, n1; const float *a, *b; float *c; } Part;

/// C[:, n0..<n1] = A · op(B)[:, n0..<n1], row-major; op(B) = B (k × n) or Bᵀ (B is n × k).
static void *multiply(void *arg) {
    const Part *p = arg;
    const int ldb = p->transB ? p->k : p->n;
    const float *b = p->transB ? p->b + (long)p->n0 * ldb : p->b + p->n0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, p->transB ? CblasTrans : CblasNoTrans, p->m, p->n1 - p->n0, p->k,
                1, p->a, p->k, b, ldb, 0, p->c + p->n0, p->n);
    return NULL;
}

static void shape(const char *name, int transB, int m, int n, int k) {
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n), *c = malloc(sizeof(float) * m * n);
    for (long i = 0; i < (long)m * k; i++) a[i] = 0.001f * (i % 7);
    for (long i = 0; i < (long)k * n; i++) b[i] = 0.001f * (i % 5);
    for (int threaded = 0; threaded < 2; threaded++) {
        int reps = 0;
        double t0 = now(), t;
        do {
            Part whole = {transB, m, n, k, 0, n, a, b, c};
            if (threaded) {
                openblas_set_num_threads(2);
                multiply(&whole);
            } else {
                openblas_set_num_threads(1);
                Part left = whole, right = whole;
                left.n1 = right.n0 = n / 2 / 16 * 16;
                pthread_t other;
                pthread_create(&other, NULL, multiply, &right);
                multiply(&left);
                pthread_join(other, NULL);
            }
            reps++;
        } while ((t = now() - t0) < 1.0);
        printf("%-28s %-18s M=%5d N=%5d K=%5d  %6.1f GFLOP/s\n", name, threaded ? "OpenBLAS 2 threads" : "split N, 2 threads",
               m, n, k, 2.0 * m * n * k * reps / t * 1e-9);
    }
    free(a); free(b); free(c);
}

int main(void) {
    // 1024 rows = one micro-batch of the training step; SmolLM2-135M: dim 576, ffn 1536, vocab 49152.
    shape("forward x.W^T (q, o)", 1, 1024, 576, 576);
    shape("forward x.W^T (gate, up)", 1, 1024, 1536, 576);
    shape("forward x.W^T (down)", 1, 1024, 576, 1536);
    shape("backward dy.W (q, o)", 0, 1024, 576, 576);
    shape("backward dy.W (gate, up)", 0, 1024, 576, 1536);
    shape("backward dy.W (down)", 0, 1024, 1536, 576);
    shape("head forward", 1, 768, 49152, 576);
    shape("head backward", 0, 768, 576, 49152);
    return 0;
}
