#include "cem_kernels.h"

#define PRECISION_BITS 22

static inline uint8_t clip8(int32_t value) {
    int32_t shifted = value >> PRECISION_BITS;
    return (uint8_t)(shifted < 0 ? 0 : shifted > 255 ? 255 : shifted);
}

#if defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#else
#define MULTIVERSION
#endif

#ifdef HAVE_AVX2_PATH
/// AVX2 horizontal pass for windows whose tap counts are all multiples of 16 (each may differ).
/// Each weight w is split as w = hi * 2^15 + lo (0 <= lo < 2^15), so that
/// 16-bit multiply-adds (vpmaddwd) compute sum(p * lo) and sum(p * hi) exactly;
/// the total, hi_sum * 2^15 + lo_sum, equals sum(p * w) modulo 2^32.
/// Folds 8 int32 lanes of hi and lo sums into hi * 2^15 + lo (mod 2^32).
__attribute__((target("avx2")))
static inline uint32_t fold_split(__m256i acc_lo, __m256i acc_hi) {
    __m256i total = _mm256_add_epi32(_mm256_slli_epi32(acc_hi, 15), acc_lo);
    __m128i folded = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
    folded = _mm_add_epi32(folded, _mm_shuffle_epi32(folded, 0x4E));
    folded = _mm_add_epi32(folded, _mm_shuffle_epi32(folded, 0xB1));
    return (uint32_t)_mm_cvtsi128_si32(folded);
}

__attribute__((target("avx2")))
static void horizontal_avx2(const uint8_t *src, size_t src_stride, size_t rows, const int32_t *first,
                            const int32_t *count, const int16_t *lo, const int16_t *hi, size_t ksize,
                            size_t out_width, uint8_t *dst) {
    const uint32_t half = 1u << (PRECISION_BITS - 1);
    size_t y = 0;
    // Two rows at a time: each weight vector loaded once serves both.
    for (; y + 2 <= rows; y += 2) {
        const uint8_t *line0 = src + y * src_stride, *line1 = line0 + src_stride;
        for (size_t x = 0; x < out_width; x++) {
            const uint8_t *p0 = line0 + first[x], *p1 = line1 + first[x];
            const int16_t *kl = lo + x * ksize, *kh = hi + x * ksize;
            __m256i lo0 = _mm256_setzero_si256(), hi0 = _mm256_setzero_si256();
            __m256i lo1 = _mm256_setzero_si256(), hi1 = _mm256_setzero_si256();
            for (int32_t i = 0; i < count[x]; i += 16) {
                __m256i wl = _mm256_loadu_si256((const __m256i *)(kl + i));
                __m256i wh = _mm256_loadu_si256((const __m256i *)(kh + i));
                __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p0 + i)));
                __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p1 + i)));
                lo0 = _mm256_add_epi32(lo0, _mm256_madd_epi16(a, wl));
                hi0 = _mm256_add_epi32(hi0, _mm256_madd_epi16(a, wh));
                lo1 = _mm256_add_epi32(lo1, _mm256_madd_epi16(b, wl));
                hi1 = _mm256_add_epi32(hi1, _mm256_madd_epi16(b, wh));
            }
            dst[y * out_width + x] = clip8((int32_t)(half + fold_split(lo0, hi0)));
            dst[(y + 1) * out_width + x] = clip8((int32_t)(half + fold_split(lo1, hi1)));
        }
    }
    for (; y < rows; y++) {
        const uint8_t *line = src + y * src_stride;
        for (size_t x = 0; x < out_width; x++) {
            const uint8_t *p = line + first[x];
            const int16_t *kl = lo + x * ksize, *kh = hi + x * ksize;
            __m256i acc_lo = _mm256_setzero_si256(), acc_hi = _mm256_setzero_si256();
            for (int32_t i = 0; i < count[x]; i += 16) {
                __m256i pixels = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p + i)));
                acc_lo = _mm256_add_epi32(acc_lo, _mm256_madd_epi16(pixels, _mm256_loadu_si256((const __m256i *)(kl + i))));
                acc_hi = _mm256_add_epi32(acc_hi, _mm256_madd_epi16(pixels, _mm256_loadu_si256((const __m256i *)(kh + i))));
            }
            dst[y * out_width + x] = clip8((int32_t)(half + fold_split(acc_lo, acc_hi)));
        }
    }
}

static int avx2_enabled = -1;

static int cpu_has_avx2(void) {
    if (avx2_enabled < 0) avx2_enabled = __builtin_cpu_supports("avx2") ? 1 : 0;
    return avx2_enabled;
}
#endif

MULTIVERSION
void cem_resample_horizontal_u8(const uint8_t *src, size_t src_stride, size_t rows, const int32_t *first,
                                const int32_t *count, const int32_t *weights, size_t ksize, size_t out_width,
                                uint8_t *dst) {
    const int32_t half = 1 << (PRECISION_BITS - 1);
    for (size_t y = 0; y < rows; y++) {
        const uint8_t *line = src + y * src_stride;
        for (size_t x = 0; x < out_width; x++) {
            const uint8_t *p = line + first[x];
            const int32_t *k = weights + x * ksize;
            int32_t n = count[x];
            // Unsigned arithmetic: wraps like Pillow's int accumulation without C's signed-overflow UB.
            uint32_t sum = (uint32_t)half;
            for (int32_t i = 0; i < n; i++) sum += (uint32_t)p[i] * (uint32_t)k[i];
            dst[y * out_width + x] = clip8((int32_t)sum);
        }
    }
}

static void vertical_plain(const uint8_t *src, size_t width, const int32_t *first, const int32_t *count,
                           const int32_t *weights, size_t ksize, size_t out_height, uint8_t *dst, int32_t *scratch) {
    const int32_t half = 1 << (PRECISION_BITS - 1);
    uint32_t *sums = (uint32_t *)scratch;
    for (size_t y = 0; y < out_height; y++) {
        const int32_t *k = weights + y * ksize;
        for (size_t x = 0; x < width; x++) sums[x] = (uint32_t)half;
        for (int32_t i = 0; i < count[y]; i++) {
            const uint8_t *line = src + (size_t)(first[y] + i) * width;
            uint32_t w = (uint32_t)k[i];
            for (size_t x = 0; x < width; x++) sums[x] += (uint32_t)line[x] * w;
        }
        uint8_t *row = dst + y * width;
        for (size_t x = 0; x < width; x++) row[x] = clip8((int32_t)sums[x]);
    }
}

#ifdef HAVE_AVX2_PATH
/// The vertical pass 16 columns at a time with the sums kept in registers across taps
/// (vpmulld keeps the low 32 bits, the same wrap-around as the plain loop), then clipped
/// and packed to bytes. Columns past the last multiple of 16 go through the plain loop.
__attribute__((target("avx2")))
static void vertical_avx2(const uint8_t *src, size_t width, const int32_t *first, const int32_t *count,
                          const int32_t *weights, size_t ksize, size_t out_height, uint8_t *dst) {
    const __m256i half = _mm256_set1_epi32(1 << (PRECISION_BITS - 1));
    const size_t blocks = width / 16 * 16;
    for (size_t y = 0; y < out_height; y++) {
        const int32_t *k = weights + y * ksize;
        const uint8_t *base = src + (size_t)first[y] * width;
        for (size_t x = 0; x < blocks; x += 16) {
            __m256i a = half, b = half;
            for (int32_t i = 0; i < count[y]; i++) {
                const uint8_t *p = base + (size_t)i * width + x;
                __m256i w = _mm256_set1_epi32(k[i]);
                __m256i lo = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
                __m256i hi = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 8)));
                a = _mm256_add_epi32(a, _mm256_mullo_epi32(lo, w));
                b = _mm256_add_epi32(b, _mm256_mullo_epi32(hi, w));
            }
            // Arithmetic shift then saturating packs: clip8 of each lane.
            a = _mm256_srai_epi32(a, PRECISION_BITS);
            b = _mm256_srai_epi32(b, PRECISION_BITS);
            __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
            __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
            _mm_storeu_si128((__m128i *)(dst + y * width + x), bytes);
        }
        const int32_t half1 = 1 << (PRECISION_BITS - 1);
        for (size_t x = blocks; x < width; x++) {
            uint32_t sum = (uint32_t)half1;
            for (int32_t i = 0; i < count[y]; i++) sum += (uint32_t)base[(size_t)i * width + x] * (uint32_t)k[i];
            dst[y * width + x] = clip8((int32_t)sum);
        }
    }
}
#endif

int cem_kernels_use_avx2(int on) {
#ifdef HAVE_AVX2_PATH
    avx2_enabled = on && __builtin_cpu_supports("avx2") ? 1 : 0;
    return avx2_enabled;
#else
    (void)on;
    return 0;
#endif
}

void cem_resample_vertical_u8(const uint8_t *src, size_t width, const int32_t *first, const int32_t *count,
                              const int32_t *weights, size_t ksize, size_t out_height, uint8_t *dst,
                              int32_t *scratch) {
#ifdef HAVE_AVX2_PATH
    if (cpu_has_avx2()) {
        vertical_avx2(src, width, first, count, weights, ksize, out_height, dst);
        return;
    }
#endif
    vertical_plain(src, width, first, count, weights, ksize, out_height, dst, scratch);
}

void cem_resample_horizontal_split_u8(const uint8_t *src, size_t src_stride, size_t rows, const int32_t *first,
                                      const int32_t *count, const int32_t *weights, const int16_t *lo,
                                      const int16_t *hi, size_t ksize, size_t out_width, uint8_t *dst) {
#ifdef HAVE_AVX2_PATH
    if (cpu_has_avx2()) {
        horizontal_avx2(src, src_stride, rows, first, count, lo, hi, ksize, out_width, dst);
        return;
    }
#endif
    (void)lo;
    (void)hi;
    cem_resample_horizontal_u8(src, src_stride, rows, first, count, weights, ksize, out_width, dst);
}

#if defined(__SSE2__)
#include <emmintrin.h>
/// Transposes one 16 x 16 block with the classic unpack ladder (bytes, words, dwords, qwords).
static inline void transpose_block16(const uint8_t *src, size_t src_stride, uint8_t *dst, size_t dst_stride) {
    __m128i r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm_loadu_si128((const __m128i *)(src + (size_t)i * src_stride));
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 2; j++) {
            r[4 * i + 2 * j] = _mm_unpacklo_epi16(t[4 * i + j], t[4 * i + j + 2]);
            r[4 * i + 2 * j + 1] = _mm_unpackhi_epi16(t[4 * i + j], t[4 * i + j + 2]);
        }
    }
    // r[4i + k] now holds rows 4i..4i+3 for columns 4k'..: regroup by dwords across row quads.
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 4; k++) {
            t[8 * i + 2 * k] = _mm_unpacklo_epi32(r[8 * i + k], r[8 * i + k + 4]);
            t[8 * i + 2 * k + 1] = _mm_unpackhi_epi32(r[8 * i + k], r[8 * i + k + 4]);
        }
    }
    for (int k = 0; k < 8; k++) {
        __m128i lo = _mm_unpacklo_epi64(t[k], t[k + 8]);
        __m128i hi = _mm_unpackhi_epi64(t[k], t[k + 8]);
        r[2 * k] = lo;
        r[2 * k + 1] = hi;
    }
    for (int i = 0; i < 16; i++) _mm_storeu_si128((__m128i *)(dst + (size_t)i * dst_stride), r[i]);
}
#endif

void cem_transpose_u8(const uint8_t *src, size_t src_stride, size_t rows, size_t cols, uint8_t *dst,
                      size_t dst_stride) {
    size_t r0 = 0;
#if defined(__SSE2__)
    for (; r0 + 16 <= rows; r0 += 16) {
        size_t c0 = 0;
        for (; c0 + 16 <= cols; c0 += 16) {
            transpose_block16(src + r0 * src_stride + c0, src_stride, dst + c0 * dst_stride + r0, dst_stride);
        }
        for (; c0 < cols; c0++) {
            for (size_t r = r0; r < r0 + 16; r++) dst[c0 * dst_stride + r] = src[r * src_stride + c0];
        }
    }
#endif
    for (; r0 < rows; r0++) {
        for (size_t c = 0; c < cols; c++) dst[c * dst_stride + r0] = src[r0 * src_stride + c];
    }
}

#if defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx2", "popcnt", "default")))
#endif
void cem_mih_probe_chunk(const int32_t *offsets, const uint64_t *hashes, const int32_t *ids, const uint16_t *probes,
                         size_t probe_count, uint16_t key, uint64_t query, int limit, uint8_t *removed) {
    // Buckets lie at random places in arrays larger than the caches: fetch a few probes ahead so
    // the misses overlap instead of being paid one after another.
    enum { AHEAD = 8 };
    for (size_t p = 0; p < probe_count && p < AHEAD; p++) __builtin_prefetch(hashes + offsets[key ^ probes[p]]);
    for (size_t p = 0; p < probe_count; p++) {
        if (p + AHEAD < probe_count) __builtin_prefetch(hashes + offsets[key ^ probes[p + AHEAD]]);
        uint16_t bucket = key ^ probes[p];
        int32_t end = offsets[(size_t)bucket + 1];
        for (int32_t i = offsets[bucket]; i < end; i++) {
            if (__builtin_popcountll(hashes[i] ^ query) <= limit) removed[ids[i]] = 1;
        }
    }
}
