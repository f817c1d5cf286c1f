// Hot loops of Pillow-exact 8-bit resampling, in C so the compiler can build an
// AVX2 variant beside the baseline one and pick at load time (target_clones);
// Swift code compiles for baseline x86-64 only. Integer arithmetic, so every
// variant gives the same bits.
#ifndef CEM_KERNELS_H
#define CEM_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Horizontal pass: for rows [0, rows) of src (row stride src_stride), output
/// pixel x of each row = clip8(2^21 + sum_i src[first[x] + i] * weights[x*ksize + i]).
void cem_resample_horizontal_u8(const uint8_t *src, size_t src_stride, size_t rows, const int32_t *first,
                                const int32_t *count, const int32_t *weights, size_t ksize, size_t out_width,
                                uint8_t *dst);

/// The same pass for windows padded to multiples of 16 taps, with each weight
/// also given split as hi * 2^15 + lo (int16 halves): uses 16-bit multiply-adds
/// on AVX2 machines, the plain loop elsewhere. Same bits either way.
void cem_resample_horizontal_split_u8(const uint8_t *src, size_t src_stride, size_t rows, const int32_t *first,
                                      const int32_t *count, const int32_t *weights, const int16_t *lo,
                                      const int16_t *hi, size_t ksize, size_t out_width, uint8_t *dst);

/// Vertical pass: output row y = clip8(2^21 + sum_i src_row[first[y] + i] * weights[y*ksize + i]) per column.
/// scratch holds width int32 values.
void cem_resample_vertical_u8(const uint8_t *src, size_t width, const int32_t *first, const int32_t *count,
                              const int32_t *weights, size_t ksize, size_t out_height, uint8_t *dst,
                              int32_t *scratch);

/// Turns the hand-written AVX2 paths on (when the CPU has AVX2) or off; returns whether they are on.
/// For tests, which check that both paths give the same bits. Not thread-safe: call before work starts.
int cem_kernels_use_avx2(int on);

/// dst[c * dst_stride + r] = src[r * src_stride + c] for r < rows, c < cols: a byte transpose in
/// 16 x 16 blocks (SSE2, part of baseline x86-64), scalar at the edges. Used for yz sections and
/// for short horizontal filters run as vertical passes.
void cem_transpose_u8(const uint8_t *src, size_t src_stride, size_t rows, size_t cols, uint8_t *dst,
                      size_t dst_stride);
#endif

#ifndef CEM_KERNELS_MIH
#define CEM_KERNELS_MIH
/// One chunk of a multi-index Hamming search: for every probe mask, scans the
/// bucket of key ^ mask (hashes[offsets[b] .. offsets[b + 1])) and sets
/// removed[ids[i]] = 1 for each hash within `limit` bits of `query`. Built with
/// a POPCNT/AVX2 variant chosen at load time.
void cem_mih_probe_chunk(const int32_t *offsets, const uint64_t *hashes, const int32_t *ids, const uint16_t *probes,
                         size_t probe_count, uint16_t key, uint64_t query, int limit, uint8_t *removed);
#endif
