#include "cem_native_private.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

struct cem_tiff {
    TIFF *handle;
};

static void tiff_error_handler(const char *module, const char *format, va_list args) {
    (void)module;
    cem_set_error_v(format, args);
}

static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

static void install_handlers(void) {
    TIFFSetErrorHandler(tiff_error_handler);
    TIFFSetWarningHandler(NULL);
}

cem_tiff *cem_tiff_open(const char *path, const char *mode) {
    pthread_once(&handlers_once, install_handlers);
    cem_clear_error();
    TIFF *handle = TIFFOpen(path, mode);
    if (!handle) {
        if (!cem_last_error()[0]) cem_set_error("cannot open as TIFF");
        return NULL;
    }
    cem_tiff *tiff = malloc(sizeof *tiff);
    if (!tiff) {
        TIFFClose(handle);
        cem_set_error("out of memory");
        return NULL;
    }
    tiff->handle = handle;
    return tiff;
}

void cem_tiff_close(cem_tiff *tiff) {
    if (!tiff) return;
    TIFFClose(tiff->handle);
    free(tiff);
}

int cem_tiff_page_count(cem_tiff *tiff) {
    cem_clear_error();
    if (!TIFFSetDirectory(tiff->handle, 0)) return -1;
    int count = 1;
    // Bounded: a looping IFD chain is refused by libtiff, but stay safe anyway.
    while (count < (1 << 24) && TIFFReadDirectory(tiff->handle)) count++;
    if (cem_last_error()[0]) return -1;
    return count;
}

static int select_page(cem_tiff *tiff, int page) {
    cem_clear_error();
    if (TIFFCurrentDirectory(tiff->handle) == page) return 0;
    if (!TIFFSetDirectory(tiff->handle, (tdir_t)page)) {
        if (!cem_last_error()[0]) cem_set_error("cannot read page %d", page);
        return -1;
    }
    return 0;
}

int cem_tiff_page_info(cem_tiff *tiff, int page, cem_tiff_page *info) {
    memset(info, 0, sizeof *info);
    if (select_page(tiff, page) != 0) return -1;
    TIFF *t = tiff->handle;
    uint32_t width = 0, height = 0;
    uint16_t bits = 1, format = SAMPLEFORMAT_UINT, spp = 1, planar = PLANARCONFIG_CONTIG;
    uint16_t compression = COMPRESSION_NONE, unit = RESUNIT_INCH;
    if (!TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &width) || !TIFFGetField(t, TIFFTAG_IMAGELENGTH, &height)) {
        cem_set_error("page %d has no image size", page);
        return -1;
    }
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &format);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &compression);
    TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &unit);
    float xres = 0, yres = 0;
    if (TIFFGetField(t, TIFFTAG_XRESOLUTION, &xres) && TIFFGetField(t, TIFFTAG_YRESOLUTION, &yres)) {
        info->has_resolution = xres > 0 && yres > 0;
    }
    char *description = NULL;
    if (TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &description) && description) {
        strncpy(info->description, description, sizeof info->description - 1);
    }
    info->width = width;
    info->height = height;
    info->bits_per_sample = bits;
    info->sample_format = format;
    info->samples_per_pixel = spp;
    info->planar_config = planar;
    info->compression = compression;
    info->resolution_unit = unit;
    info->x_resolution = xres;
    info->y_resolution = yres;
    info->contiguous_data_offset = -1;

    if (compression == COMPRESSION_NONE && spp == 1 && !TIFFIsTiled(t) && !TIFFIsByteSwapped(t) &&
        (bits == 8 || bits == 16 || bits == 32 || bits == 64)) {
        uint64_t *offsets = NULL, *counts = NULL;
        uint32_t strips = TIFFNumberOfStrips(t);
        if (TIFFGetField(t, TIFFTAG_STRIPOFFSETS, &offsets) && TIFFGetField(t, TIFFTAG_STRIPBYTECOUNTS, &counts) &&
            strips > 0) {
            uint64_t expected = (uint64_t)width * height * (bits / 8);
            uint64_t total = 0;
            int contiguous = 1;
            for (uint32_t i = 0; i < strips; i++) {
                if (offsets[i] != offsets[0] + total) contiguous = 0;
                total += counts[i];
            }
            if (contiguous && total >= expected) info->contiguous_data_offset = (int64_t)offsets[0];
        }
    }
    return 0;
}

/// Copies the first sample of each pixel from a decoded block of rows/columns.
static void copy_first_sample(uint8_t *dst, size_t dst_stride, const uint8_t *src, size_t src_stride,
                              uint32_t rows, uint32_t cols, size_t sample_bytes, size_t pixel_bytes) {
    for (uint32_t r = 0; r < rows; r++) {
        const uint8_t *s = src + r * src_stride;
        uint8_t *d = dst + r * dst_stride;
        if (pixel_bytes == sample_bytes) {
            memcpy(d, s, (size_t)cols * sample_bytes);
        } else {
            for (uint32_t c = 0; c < cols; c++) memcpy(d + c * sample_bytes, s + c * pixel_bytes, sample_bytes);
        }
    }
}

int cem_tiff_read_page(cem_tiff *tiff, int page, void *dst, size_t dst_len) {
    cem_tiff_page info;
    if (cem_tiff_page_info(tiff, page, &info) != 0) return -1;
    TIFF *t = tiff->handle;
    if (info.bits_per_sample % 8 != 0 || info.bits_per_sample == 0) {
        cem_set_error("page %d: %d bits per sample is not supported", page, info.bits_per_sample);
        return -1;
    }
    size_t sample_bytes = info.bits_per_sample / 8;
    size_t expected = (size_t)info.width * info.height * sample_bytes;
    if (dst_len != expected) {
        cem_set_error("page %d: buffer of %zu bytes, need %zu", page, dst_len, expected);
        return -1;
    }
    // With separate planes, plane 0 holds the first sample alone.
    size_t pixel_bytes = info.planar_config == PLANARCONFIG_SEPARATE ? sample_bytes
                                                                     : sample_bytes * info.samples_per_pixel;
    uint8_t *out = dst;
    size_t out_stride = (size_t)info.width * sample_bytes;
    if (TIFFIsTiled(t)) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(t, TIFFTAG_TILELENGTH, &th);
        tmsize_t tile_size = TIFFTileSize(t);
        if (tw == 0 || th == 0 || tile_size <= 0) {
            cem_set_error("page %d: invalid tile layout", page);
            return -1;
        }
        uint8_t *buffer = malloc((size_t)tile_size);
        if (!buffer) {
            cem_set_error("out of memory");
            return -1;
        }
        for (uint32_t y = 0; y < info.height; y += th) {
            for (uint32_t x = 0; x < info.width; x += tw) {
                ttile_t index = TIFFComputeTile(t, x, y, 0, 0);
                if (TIFFReadEncodedTile(t, index, buffer, tile_size) < 0) {
                    free(buffer);
                    if (!cem_last_error()[0]) cem_set_error("page %d: cannot decode tile %u", page, index);
                    return -1;
                }
                uint32_t rows = y + th > info.height ? info.height - y : th;
                uint32_t cols = x + tw > info.width ? info.width - x : tw;
                copy_first_sample(out + y * out_stride + x * sample_bytes, out_stride, buffer,
                                  (size_t)tw * pixel_bytes, rows, cols, sample_bytes, pixel_bytes);
            }
        }
        free(buffer);
        return 0;
    }
    uint32_t rows_per_strip = info.height;
    TIFFGetFieldDefaulted(t, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
    if (rows_per_strip == 0 || rows_per_strip > info.height) rows_per_strip = info.height;
    tmsize_t strip_size = TIFFStripSize(t);
    if (strip_size <= 0) {
        cem_set_error("page %d: invalid strip layout", page);
        return -1;
    }
    uint8_t *buffer = malloc((size_t)strip_size);
    if (!buffer) {
        cem_set_error("out of memory");
        return -1;
    }
    for (uint32_t y = 0; y < info.height; y += rows_per_strip) {
        tstrip_t index = TIFFComputeStrip(t, y, 0);
        uint32_t rows = y + rows_per_strip > info.height ? info.height - y : rows_per_strip;
        tmsize_t need = (tmsize_t)rows * info.width * pixel_bytes;
        tmsize_t got = TIFFReadEncodedStrip(t, index, buffer, strip_size);
        if (got < need) {
            free(buffer);
            if (!cem_last_error()[0]) cem_set_error("page %d: strip %u is truncated or corrupt", page, index);
            return -1;
        }
        copy_first_sample(out + (size_t)y * out_stride, out_stride, buffer, (size_t)info.width * pixel_bytes, rows,
                          info.width, sample_bytes, pixel_bytes);
    }
    free(buffer);
    return 0;
}

int cem_tiff_write_page(cem_tiff *tiff, const void *data, uint32_t width, uint32_t height, int bits,
                        double x_resolution, double y_resolution, const char *description, int page,
                        int page_count) {
    cem_clear_error();
    TIFF *t = tiff->handle;
    if (bits != 8 && bits != 16 && bits != 32) {
        cem_set_error("TIFF writer: unsupported bit depth %d", bits);
        return -1;
    }
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, width);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, height);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)bits);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, (uint16_t)(bits == 32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT));
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, height);
    if (x_resolution > 0 && y_resolution > 0) {
        TIFFSetField(t, TIFFTAG_XRESOLUTION, (float)x_resolution);
        TIFFSetField(t, TIFFTAG_YRESOLUTION, (float)y_resolution);
        TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
    }
    if (description && description[0] && page == 0) TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, description);
    if (page_count > 1) {
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(t, TIFFTAG_PAGENUMBER, (uint16_t)page, (uint16_t)page_count);
    }
    tmsize_t size = (tmsize_t)width * height * (bits / 8);
    if (TIFFWriteEncodedStrip(t, 0, (void *)data, size) < 0 || !TIFFWriteDirectory(t)) {
        if (!cem_last_error()[0]) cem_set_error("cannot write page %d", page);
        return -1;
    }
    return 0;
}
