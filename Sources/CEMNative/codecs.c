#include "cem_native_private.h"

#include <blosc.h>
#include <zstd.h>

int cem_blosc_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len) {
    cem_clear_error();
    size_t nbytes = 0, cbytes = 0, blocksize = 0;
    if (src_len < BLOSC_MIN_HEADER_LENGTH) {
        cem_set_error("blosc chunk of %zu bytes is shorter than its header", src_len);
        return -1;
    }
    blosc_cbuffer_sizes(src, &nbytes, &cbytes, &blocksize);
    if (cbytes > src_len) {
        cem_set_error("blosc chunk truncated: header says %zu bytes, have %zu", cbytes, src_len);
        return -1;
    }
    if (nbytes != dst_len) {
        cem_set_error("blosc chunk holds %zu bytes, the array's chunk needs %zu", nbytes, dst_len);
        return -1;
    }
    int got = blosc_decompress_ctx(src, dst, dst_len, 1);
    if (got < 0 || (size_t)got != dst_len) {
        cem_set_error("corrupt blosc chunk (code %d)", got);
        return -1;
    }
    return 0;
}

int cem_zstd_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len) {
    cem_clear_error();
    size_t got = ZSTD_decompress(dst, dst_len, src, src_len);
    if (ZSTD_isError(got)) {
        cem_set_error("corrupt zstd chunk (%s)", ZSTD_getErrorName(got));
        return -1;
    }
    if (got != dst_len) {
        cem_set_error("zstd chunk holds %zu bytes, the array's chunk needs %zu", got, dst_len);
        return -1;
    }
    return 0;
}
