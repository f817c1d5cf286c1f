#include "cem_native_private.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void png_error_fn(png_structp png, png_const_charp message) {
    cem_set_error("%s", message);
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp message) {
    (void)png;
    (void)message; // warnings are not errors; stay quiet
}

int cem_png_read_first_channel(const char *path, uint64_t max_pixels, cem_plane *out) {
    cem_clear_error();
    memset(out, 0, sizeof *out);
    FILE *file = fopen(path, "rb");
    if (!file) {
        cem_set_error("cannot open file");
        return -1;
    }
    png_byte signature[8];
    if (fread(signature, 1, 8, file) != 8 || png_sig_cmp(signature, 0, 8) != 0) {
        fclose(file);
        cem_set_error("not a PNG file (bad signature)");
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(file);
        cem_set_error("libpng: out of memory");
        return -1;
    }
    // Volatile: modified between setjmp and a possible longjmp.
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        fclose(file);
        return -1;
    }
    png_init_io(png, file);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, 1u << 30, 1u << 30);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if ((uint64_t)width * height > max_pixels) {
        cem_set_error("image of %ux%u pixels exceeds the limit of %llu pixels", width, height,
                      (unsigned long long)max_pixels);
        png_longjmp(png, 1);
    }
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_swap(png); // PNG is big-endian; we want native little-endian
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    int bytes_per_sample = png_get_bit_depth(png, info) == 16 ? 2 : 1;
    pixels = malloc(row_bytes * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) {
        cem_set_error("out of memory for %ux%u image", width, height);
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    // Keep channel 0 only, in place (the write position never passes the read one).
    size_t stride = (size_t)channels * bytes_per_sample;
    uint8_t *dst = pixels;
    for (png_uint_32 y = 0; y < height; y++) {
        const uint8_t *row = rows[y];
        for (png_uint_32 x = 0; x < width; x++) {
            memmove(dst, row + x * stride, bytes_per_sample);
            dst += bytes_per_sample;
        }
    }
    free(rows);
    rows = NULL;
    png_destroy_read_struct(&png, &info, NULL);
    fclose(file);
    out->data = pixels;
    out->width = width;
    out->height = height;
    out->bytes_per_sample = bytes_per_sample;
    return 0;
}

int cem_png_write_gray(const char *path, const void *data, uint32_t width, uint32_t height, int bit_depth) {
    cem_clear_error();
    if (bit_depth != 8 && bit_depth != 16) {
        cem_set_error("PNG: unsupported bit depth %d", bit_depth);
        return -1;
    }
    FILE *file = fopen(path, "wb");
    if (!file) {
        cem_set_error("cannot create file");
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(file);
        cem_set_error("libpng: out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(file);
        return -1;
    }
    png_init_io(png, file);
    png_set_IHDR(png, info, width, height, bit_depth, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (bit_depth == 16) png_set_swap(png);
    size_t row_bytes = (size_t)width * (bit_depth / 8);
    for (uint32_t y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)data + y * row_bytes);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(file) != 0) {
        cem_set_error("write failed (disk full?)");
        return -1;
    }
    return 0;
}
