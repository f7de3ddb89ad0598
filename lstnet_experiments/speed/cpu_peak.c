/* Measures this core's clock and its peak multiply-add throughput, for lstnet_tf/bench.py.
 *
 *   gcc -O2 -march=native lstnet_tf/cpu_peak.c -o cpu_peak && ./cpu_peak [clock|float32|bfloat16]
 *
 * clock_ghz:       a chain of dependent 64-bit IMULs (latency 3 cycles on Intel cores since
 *                  Sandy Bridge) timed with the wall clock: the clock the core really runs at,
 *                  turbo included, which /proc/cpuinfo does not show inside a VM.
 * float32_gflops:  24 independent chains of 512-bit VFMADD231PS (16 lanes x 2 FLOPs each),
 *                  enough to cover the FMA latency on both FMA ports; on a CPU without
 *                  AVX-512, 12 chains of 256-bit AVX2 FMAs (8 lanes x 2 FLOPs; 12 of the 16
 *                  ymm registers, still more chains than FMA latency x ports).
 * bfloat16_gflops: the same with VDPBF16PS (AVX512-BF16: 32 bf16 products accumulated into
 *                  16 float32 lanes = 64 FLOPs each), the instruction oneDNN's bf16
 *                  convolutions use on CPUs without AMX.
 * Each figure is for one core. With an argument only that measurement runs, about a second
 * long: bench.py starts one copy per core for each measurement in turn, so that the copies
 * really compete for the cores at the same time (they would not if their phases drifted).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) \
    X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define N_CHAINS 24.0
/* The empty asm keeps every accumulator in a register and stops the compiler from folding
 * the loop, without adding any instruction. */
#define PIN(v) __asm__ volatile("" : "+v"(v));

static void clock_ghz(void) {
    const long imuls = 250000000L;
    long x = 3;
    double start = now();
    for (long i = 0; i < imuls; i++)
        __asm__ volatile("imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0" : "+r"(x));
    printf("clock_ghz %.4f\n", 4.0 * 3.0 * imuls / (now() - start) / 1e9);
}

#define ROUNDS 120000000L

static void float32_gflops(void) {
#ifdef __AVX512F__
    const __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-9f);
    float sink = 0;
#define DECLARE(k) __m512 a##k = _mm512_set1_ps((float)k);
    CHAINS(DECLARE)
    double start = now();
    for (long i = 0; i < ROUNDS; i++) {
#define FMA(k) a##k = _mm512_fmadd_ps(a##k, b, c); PIN(a##k)
        CHAINS(FMA)
    }
    double seconds = now() - start;
#define SINK(k) sink += _mm512_reduce_add_ps(a##k);
    CHAINS(SINK)
    printf("float32_gflops %.2f\nsink %g\n", N_CHAINS * ROUNDS * 16 * 2 / seconds / 1e9, sink);
#elif defined(__AVX2__) && defined(__FMA__)
#define CHAINS_256(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
    const __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-9f);
    float sink = 0, lanes[8];
#define DECLARE_256(k) __m256 a##k = _mm256_set1_ps((float)k);
    CHAINS_256(DECLARE_256)
    double start = now();
    for (long i = 0; i < ROUNDS; i++) {
#define FMA_256(k) a##k = _mm256_fmadd_ps(a##k, b, c); PIN(a##k)
        CHAINS_256(FMA_256)
    }
    double seconds = now() - start;
#define SINK_256(k) _mm256_storeu_ps(lanes, a##k); for (int j = 0; j < 8; j++) sink += lanes[j];
    CHAINS_256(SINK_256)
    printf("float32_gflops %.2f\nsink %g\n", 12.0 * ROUNDS * 8 * 2 / seconds / 1e9, sink);
#else
    printf("float32_gflops unsupported\n");
#endif
}

static void bfloat16_gflops(void) {
#ifdef __AVX512BF16__
    const __m512bh p = (__m512bh)_mm512_set1_epi16(0x3f80), q = (__m512bh)_mm512_set1_epi16(0x3f80);
    float sink = 0;
#define DECLARE_BF16(k) __m512 d##k = _mm512_set1_ps((float)k);
    CHAINS(DECLARE_BF16)
    double start = now();
    for (long i = 0; i < ROUNDS; i++) {
#define DOT(k) d##k = _mm512_dpbf16_ps(d##k, p, q); PIN(d##k)
        CHAINS(DOT)
    }
    double seconds = now() - start;
#define SINK_BF16(k) sink += _mm512_reduce_add_ps(d##k);
    CHAINS(SINK_BF16)
    printf("bfloat16_gflops %.2f\nsink %g\n", N_CHAINS * ROUNDS * 32 * 2 / seconds / 1e9, sink);
#else
    printf("bfloat16_gflops unsupported\n");
#endif
}

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : "";
    if (!*only || !strcmp(only, "clock")) clock_ghz();
    if (!*only || !strcmp(only, "float32")) float32_gflops();
    if (!*only || !strcmp(only, "bfloat16")) bfloat16_gflops();
    return 0;
}
