#include "cem_native_private.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
} jpeg_error_state;

static void jpeg_error_exit(j_common_ptr info) {
    jpeg_error_state *state = (jpeg_error_state *)info->err;
    char message[JMSG_LENGTH_MAX];
    info->err->format_message(info, message);
    cem_set_error("%s", message);
    longjmp(state->jump, 1);
}

static void jpeg_silent(j_common_ptr info, int level) { (void)info; (void)level; }

int cem_jpeg_read_first_channel(const char *path, uint64_t max_pixels, cem_plane *out) {
    cem_clear_error();
    memset(out, 0, sizeof *out);
    FILE *file = fopen(path, "rb");
    if (!file) {
        cem_set_error("cannot open file");
        return -1;
    }
    struct jpeg_decompress_struct info;
    jpeg_error_state errors;
    info.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = jpeg_error_exit;
    errors.base.emit_message = jpeg_silent;
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile row = NULL;
    if (setjmp(errors.jump)) {
        free(pixels);
        free(row);
        jpeg_destroy_decompress(&info);
        fclose(file);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_stdio_src(&info, file);
    jpeg_read_header(&info, TRUE);
    // Like PIL: grayscale stays gray; colour becomes RGB and we keep R.
    if (info.jpeg_color_space != JCS_GRAYSCALE) info.out_color_space = JCS_RGB;
    jpeg_start_decompress(&info);
    uint64_t count = (uint64_t)info.output_width * info.output_height;
    if (count > max_pixels) {
        cem_set_error("image of %ux%u pixels exceeds the limit", info.output_width, info.output_height);
        longjmp(errors.jump, 1);
    }
    int channels = info.output_components;
    pixels = malloc(count ? count : 1);
    row = malloc((size_t)info.output_width * channels);
    if (!pixels || !row) {
        cem_set_error("out of memory");
        longjmp(errors.jump, 1);
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW rows[1] = {row};
        uint32_t y = info.output_scanline;
        jpeg_read_scanlines(&info, rows, 1);
        for (uint32_t x = 0; x < info.output_width; x++) {
            pixels[(size_t)y * info.output_width + x] = row[(size_t)x * channels];
        }
    }
    jpeg_finish_decompress(&info);
    out->data = pixels;
    out->width = info.output_width;
    out->height = info.output_height;
    out->bytes_per_sample = 1;
    free(row);
    jpeg_destroy_decompress(&info);
    fclose(file);
    return 0;
}
