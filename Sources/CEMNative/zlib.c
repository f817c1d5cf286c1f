#include "cem_native_private.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zlib.h>

// MARK: inflate

struct cem_inflater {
    z_stream stream;
    const uint8_t *src;
    size_t src_len;
    size_t in_done;
    int ended;
};

cem_inflater *cem_inflater_open(const uint8_t *src, size_t src_len) {
    cem_clear_error();
    cem_inflater *inflater = calloc(1, sizeof *inflater);
    if (!inflater) {
        cem_set_error("out of memory");
        return NULL;
    }
    // 15 + 32: accept both zlib and gzip headers.
    if (inflateInit2(&inflater->stream, 15 + 32) != Z_OK) {
        free(inflater);
        cem_set_error("zlib: cannot initialise inflate");
        return NULL;
    }
    inflater->src = src;
    inflater->src_len = src_len;
    return inflater;
}

int cem_inflater_read(cem_inflater *inflater, uint8_t *dst, size_t count, size_t *produced) {
    cem_clear_error();
    z_stream *stream = &inflater->stream;
    size_t out_done = 0;
    while (out_done < count && !inflater->ended) {
        size_t in_chunk = inflater->src_len - inflater->in_done;
        if (in_chunk > UINT_MAX) in_chunk = UINT_MAX;
        size_t out_chunk = count - out_done > UINT_MAX ? UINT_MAX : count - out_done;
        stream->next_in = (Bytef *)(inflater->src + inflater->in_done);
        stream->avail_in = (uInt)in_chunk;
        stream->next_out = dst + out_done;
        stream->avail_out = (uInt)out_chunk;
        int status = inflate(stream, Z_NO_FLUSH);
        inflater->in_done += in_chunk - stream->avail_in;
        out_done += out_chunk - stream->avail_out;
        if (status == Z_STREAM_END) {
            // Concatenated gzip members continue after the end of one stream.
            if (inflater->in_done < inflater->src_len && inflater->src[inflater->in_done] == 0x1f) {
                inflateReset(stream);
                continue;
            }
            inflater->ended = 1;
            break;
        }
        if (status != Z_OK) {
            if (status == Z_BUF_ERROR && inflater->in_done == inflater->src_len) {
                cem_set_error("compressed data ends early (truncated stream)");
            } else {
                cem_set_error("corrupt compressed data (%s)", stream->msg ? stream->msg : "zlib error");
            }
            return -1;
        }
    }
    *produced = out_done;
    return 0;
}

size_t cem_inflater_consumed(const cem_inflater *inflater) { return inflater->in_done; }

void cem_inflater_close(cem_inflater *inflater) {
    if (!inflater) return;
    inflateEnd(&inflater->stream);
    free(inflater);
}

/// libdeflate decodes a whole stream 2-3x faster than zlib but needs the whole output buffer and
/// reports no partial progress: used when the stream fills dst exactly (the usual case: the size
/// comes from a header), with zlib as the fallback that handles everything else and words the errors.
static int inflate_whole(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap, size_t *produced) {
    if (src_len < 2) return -1;
    int gzip = src[0] == 0x1f && src[1] == 0x8b;
    struct libdeflate_decompressor *decompressor = libdeflate_alloc_decompressor();
    if (!decompressor) return -1;
    size_t in_done = 0, out_done = 0;
    enum libdeflate_result result = LIBDEFLATE_SUCCESS;
    do {
        size_t in_used = 0, out_made = 0;
        result = gzip ? libdeflate_gzip_decompress_ex(decompressor, src + in_done, src_len - in_done, dst + out_done,
                                                      dst_cap - out_done, &in_used, &out_made)
                      : libdeflate_zlib_decompress_ex(decompressor, src + in_done, src_len - in_done, dst + out_done,
                                                      dst_cap - out_done, &in_used, &out_made);
        in_done += in_used;
        out_done += out_made;
        // Concatenated gzip members follow one another.
    } while (result == LIBDEFLATE_SUCCESS && gzip && out_done < dst_cap && in_done + 1 < src_len &&
             src[in_done] == 0x1f && src[in_done + 1] == 0x8b);
    libdeflate_free_decompressor(decompressor);
    if (result != LIBDEFLATE_SUCCESS || out_done != dst_cap) return -1;
    *produced = out_done;
    return 0;
}

int cem_inflate(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap, size_t *produced) {
    cem_clear_error();
    if (inflate_whole(src, src_len, dst, dst_cap, produced) == 0) return 0;
    cem_inflater *inflater = cem_inflater_open(src, src_len);
    if (!inflater) return -1;
    int status = cem_inflater_read(inflater, dst, dst_cap, produced);
    cem_inflater_close(inflater);
    return status;
}

// MARK: deflate

enum { DEFLATE_BUFFER = 1 << 18 };

struct cem_deflater {
    z_stream stream;
    int fd;
    uint8_t buffer[DEFLATE_BUFFER];
};

cem_deflater *cem_deflater_open(int fd, int level) {
    cem_clear_error();
    cem_deflater *deflater = calloc(1, sizeof *deflater);
    if (!deflater) {
        cem_set_error("out of memory");
        return NULL;
    }
    // 15 + 16: gzip wrapper.
    if (deflateInit2(&deflater->stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(deflater);
        cem_set_error("zlib: cannot initialise deflate");
        return NULL;
    }
    deflater->fd = fd;
    return deflater;
}

static int write_all(int fd, const uint8_t *bytes, size_t count) {
    while (count > 0) {
        ssize_t written = write(fd, bytes, count);
        if (written < 0) {
            if (errno == EINTR) continue;
            cem_set_error("write failed: %s", strerror(errno));
            return -1;
        }
        bytes += written;
        count -= (size_t)written;
    }
    return 0;
}

int cem_deflater_write(cem_deflater *deflater, const uint8_t *src, size_t len, int finish) {
    cem_clear_error();
    z_stream *stream = &deflater->stream;
    size_t in_done = 0;
    for (;;) {
        size_t in_chunk = len - in_done > UINT_MAX ? UINT_MAX : len - in_done;
        int last_chunk = in_done + in_chunk == len;
        stream->next_in = (Bytef *)(src + in_done);
        stream->avail_in = (uInt)in_chunk;
        int status;
        // Drain the compressor through the fixed buffer until it has taken this chunk
        // (and, when finishing, written the stream's end).
        do {
            stream->next_out = deflater->buffer;
            stream->avail_out = DEFLATE_BUFFER;
            status = deflate(stream, finish && last_chunk ? Z_FINISH : Z_NO_FLUSH);
            if (status == Z_STREAM_ERROR) {
                cem_set_error("zlib: deflate failed");
                return -1;
            }
            if (write_all(deflater->fd, deflater->buffer, DEFLATE_BUFFER - stream->avail_out) != 0) return -1;
        } while (stream->avail_out == 0 || (finish && last_chunk && status != Z_STREAM_END));
        in_done += in_chunk - stream->avail_in;
        if (last_chunk) return 0;
    }
}

void cem_deflater_close(cem_deflater *deflater) {
    if (!deflater) return;
    deflateEnd(&deflater->stream);
    free(deflater);
}
