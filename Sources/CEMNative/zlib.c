#include "cem_native_private.h"

#include <limits.h>
#include <stdlib.h>
#include <zlib.h>

int cem_inflate(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap, size_t *produced) {
    cem_clear_error();
    z_stream stream = {0};
    // 15 + 32: accept both zlib and gzip headers.
    if (inflateInit2(&stream, 15 + 32) != Z_OK) {
        cem_set_error("zlib: cannot initialise inflate");
        return -1;
    }
    size_t in_done = 0, out_done = 0;
    int status = Z_OK;
    while (out_done < dst_cap) {
        size_t in_chunk = src_len - in_done > UINT_MAX ? UINT_MAX : src_len - in_done;
        size_t out_chunk = dst_cap - out_done > UINT_MAX ? UINT_MAX : dst_cap - out_done;
        stream.next_in = (Bytef *)(src + in_done);
        stream.avail_in = (uInt)in_chunk;
        stream.next_out = dst + out_done;
        stream.avail_out = (uInt)out_chunk;
        status = inflate(&stream, Z_NO_FLUSH);
        in_done += in_chunk - stream.avail_in;
        out_done += out_chunk - stream.avail_out;
        if (status == Z_STREAM_END) {
            // Concatenated gzip members continue after the end of one stream.
            if (in_done < src_len && src[in_done] == 0x1f) {
                inflateReset(&stream);
                continue;
            }
            break;
        }
        if (status != Z_OK) {
            if (status == Z_BUF_ERROR && in_done == src_len) {
                cem_set_error("compressed data ends early (truncated stream)");
            } else {
                cem_set_error("corrupt compressed data (%s)", stream.msg ? stream.msg : "zlib error");
            }
            inflateEnd(&stream);
            return -1;
        }
    }
    inflateEnd(&stream);
    *produced = out_done;
    return 0;
}

int cem_gzip(const uint8_t *src, size_t src_len, int level, uint8_t **dst, size_t *dst_len) {
    cem_clear_error();
    z_stream stream = {0};
    // 15 + 16: gzip wrapper.
    if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        cem_set_error("zlib: cannot initialise deflate");
        return -1;
    }
    size_t capacity = deflateBound(&stream, src_len) + 64;
    uint8_t *out = malloc(capacity);
    if (!out) {
        deflateEnd(&stream);
        cem_set_error("out of memory compressing %zu bytes", src_len);
        return -1;
    }
    size_t in_done = 0, out_done = 0;
    int status;
    do {
        size_t in_chunk = src_len - in_done > UINT_MAX ? UINT_MAX : src_len - in_done;
        size_t out_chunk = capacity - out_done > UINT_MAX ? UINT_MAX : capacity - out_done;
        stream.next_in = (Bytef *)(src + in_done);
        stream.avail_in = (uInt)in_chunk;
        stream.next_out = out + out_done;
        stream.avail_out = (uInt)out_chunk;
        int flush = (in_done + in_chunk == src_len) ? Z_FINISH : Z_NO_FLUSH;
        status = deflate(&stream, flush);
        in_done += in_chunk - stream.avail_in;
        out_done += out_chunk - stream.avail_out;
        if (status == Z_STREAM_ERROR || (status == Z_BUF_ERROR && out_done == capacity)) {
            free(out);
            deflateEnd(&stream);
            cem_set_error("zlib: deflate failed");
            return -1;
        }
    } while (status != Z_STREAM_END);
    deflateEnd(&stream);
    *dst = out;
    *dst_len = out_done;
    return 0;
}
