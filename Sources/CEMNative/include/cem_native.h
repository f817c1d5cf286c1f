// Thin C shims over the C image libraries cem links (libtiff, libpng, libjpeg,
// libhdf5, zlib). They exist only where Swift cannot call the library directly:
// variadic functions (TIFFGetField), longjmp-based error handling (libpng,
// libjpeg) and macro-heavy APIs (HDF5 type ids). Every function reports failure
// through its return value and a thread-local message (cem_last_error); none
// aborts, prints or allocates from an unchecked size.
#ifndef CEM_NATIVE_H
#define CEM_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The message of the last failure on this thread ("" when none).
const char *cem_last_error(void);

// MARK: zlib

/// Inflates a gzip or zlib stream (detected from its header) into dst, stopping
/// when dst is full or the stream ends. Returns 0 and sets *produced, or -1.
int cem_inflate(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap, size_t *produced);

/// A gzip or zlib stream over src (which must outlive it), inflated a piece at a
/// time so that a large volume never has to be decoded whole.
typedef struct cem_inflater cem_inflater;
cem_inflater *cem_inflater_open(const uint8_t *src, size_t src_len);
/// Fills dst with the next `count` bytes; *produced < count only where the data ends.
int cem_inflater_read(cem_inflater *inflater, uint8_t *dst, size_t count, size_t *produced);
/// Compressed bytes read so far (to release pages of a mapped input behind the reader).
size_t cem_inflater_consumed(const cem_inflater *inflater);
void cem_inflater_close(cem_inflater *inflater);

/// A gzip stream written to a file descriptor piece by piece through a fixed buffer.
typedef struct cem_deflater cem_deflater;
cem_deflater *cem_deflater_open(int fd, int level);
/// Compresses len bytes; `finish` on the last call ends the gzip stream.
int cem_deflater_write(cem_deflater *deflater, const uint8_t *src, size_t len, int finish);
void cem_deflater_close(cem_deflater *deflater);

// MARK: 2D planes decoded by libpng / libjpeg

/// One image plane: the first channel only, native byte order, malloc'd data.
typedef struct {
    uint8_t *data;
    uint32_t width;
    uint32_t height;
    int bytes_per_sample; // 1 or 2
} cem_plane;

int cem_png_read_first_channel(const char *path, uint64_t max_pixels, cem_plane *out);
/// Writes a grayscale PNG; data is width*height samples of bit_depth 8 or 16 (native order).
int cem_png_write_gray(const char *path, const void *data, uint32_t width, uint32_t height, int bit_depth);
int cem_jpeg_read_first_channel(const char *path, uint64_t max_pixels, cem_plane *out);

// MARK: TIFF (libtiff)

typedef struct cem_tiff cem_tiff;

typedef struct {
    uint32_t width;
    uint32_t height;
    uint16_t bits_per_sample;
    uint16_t sample_format;     // 1 unsigned, 2 signed, 3 float
    uint16_t samples_per_pixel;
    uint16_t planar_config;     // 1 contiguous, 2 separate
    uint16_t compression;       // 1 none
    uint16_t resolution_unit;   // 1 none, 2 inch, 3 cm
    int has_resolution;
    double x_resolution;        // pixels per unit
    double y_resolution;
    /// Byte offset of the page's pixels when they are uncompressed, one sample per
    /// pixel, in native byte order and contiguous in the file; -1 otherwise.
    int64_t contiguous_data_offset;
    char description[4096];     // ImageDescription, truncated, "" when absent
} cem_tiff_page;

cem_tiff *cem_tiff_open(const char *path, const char *mode);
void cem_tiff_close(cem_tiff *tiff);
/// Number of pages (directories), or -1 on a corrupt directory chain.
int cem_tiff_page_count(cem_tiff *tiff);
int cem_tiff_page_info(cem_tiff *tiff, int page, cem_tiff_page *info);
/// Decodes one page's first sample of every pixel into dst (height*width samples,
/// native byte order). dst_len must equal height*width*bits_per_sample/8.
int cem_tiff_read_page(cem_tiff *tiff, int page, void *dst, size_t dst_len);
/// Appends one grayscale page (8 or 16 bit unsigned) to a file opened with mode "w".
/// x_resolution <= 0 writes no resolution tags; description may be NULL.
int cem_tiff_write_page(cem_tiff *tiff, const void *data, uint32_t width, uint32_t height,
                        int bits, double x_resolution, double y_resolution,
                        const char *description, int page, int page_count);

// MARK: HDF5

typedef struct {
    int rank;
    uint64_t dims[8];
    int element_size;   // bytes
    int is_float;
    int is_signed;
    int has_resolution; // a numeric "resolution" attribute with 3 values (z, y, x)
    double resolution[3];
} cem_h5_info;

int cem_h5_inspect(const char *file, const char *dataset, cem_h5_info *info);
/// Reads the whole dataset in its native element type into dst (dst_len bytes exactly).
int cem_h5_read(const char *file, const char *dataset, void *dst, size_t dst_len);

#ifdef __cplusplus
}
#endif
#endif

#ifndef CEM_NATIVE_CODECS
#define CEM_NATIVE_CODECS
#ifdef __cplusplus
extern "C" {
#endif
/// Blosc (any inner codec libblosc was built with: lz4, zstd, zlib, ...): decodes
/// into dst of exactly dst_len bytes. Returns 0, or -1 with cem_last_error set.
int cem_blosc_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len);
/// Zstandard frame(s) into dst of exactly dst_len bytes.
int cem_zstd_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len);
#ifdef __cplusplus
}
#endif
#endif
