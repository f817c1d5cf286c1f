#include "cem_video.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[512];

// FFmpeg's libraries pull ~130 shared objects (codecs, X11, VA-API, ...) whose loading and
// relocation cost every cem command ~25 ms at start. They are opened with dlopen on the first
// video instead, by the soname of the headers compiled against; the calls below go through
// this table (each name is redefined as the table's entry after the table is declared).
#define CEM_FF_FUNCTIONS(X) \
    X(avutil, av_strerror) X(avutil, av_log_set_level) X(avutil, av_frame_alloc) X(avutil, av_frame_free) \
    X(avcodec, av_packet_alloc) X(avcodec, av_packet_free) X(avcodec, av_packet_unref) \
    X(avcodec, avcodec_alloc_context3) X(avcodec, avcodec_free_context) X(avcodec, avcodec_open2) \
    X(avcodec, avcodec_parameters_to_context) X(avcodec, avcodec_receive_frame) X(avcodec, avcodec_send_packet) \
    X(avformat, avformat_open_input) X(avformat, avformat_find_stream_info) X(avformat, av_find_best_stream) \
    X(avformat, av_read_frame) X(avformat, avformat_close_input) \
    X(swscale, sws_getCachedContext) X(swscale, sws_scale) X(swscale, sws_freeContext)

#define CEM_FF_FIELD(library, name) __typeof__(&name) name;
static struct { CEM_FF_FUNCTIONS(CEM_FF_FIELD) } ff;

#define CEM_STRINGIFY2(x) #x
#define CEM_STRINGIFY(x) CEM_STRINGIFY2(x)
static const char *const sonames[] = {
    "libavutil.so." CEM_STRINGIFY(LIBAVUTIL_VERSION_MAJOR), "libavcodec.so." CEM_STRINGIFY(LIBAVCODEC_VERSION_MAJOR),
    "libavformat.so." CEM_STRINGIFY(LIBAVFORMAT_VERSION_MAJOR), "libswscale.so." CEM_STRINGIFY(LIBSWSCALE_VERSION_MAJOR),
};
enum { avutil, avcodec, avformat, swscale };

static pthread_once_t ff_once = PTHREAD_ONCE_INIT;
static char ff_error[512];

static void ff_load(void) {
    void *handles[4];
    for (int i = 0; i < 4; i++) {
        handles[i] = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
        if (!handles[i]) {
            snprintf(ff_error, sizeof ff_error, "FFmpeg is not available (%s): install libavformat/libavcodec", dlerror());
            return;
        }
    }
#define CEM_FF_LOAD(library, name)                                                                           \
    if (!(ff.name = (__typeof__(ff.name))dlsym(handles[library], #name))) {                                   \
        snprintf(ff_error, sizeof ff_error, "FFmpeg's %s lacks %s", sonames[library], #name);                  \
        return;                                                                                               \
    }
    CEM_FF_FUNCTIONS(CEM_FF_LOAD)
}

/// 0 once every FFmpeg function is resolved; -1 with the reason in last_error otherwise.
static int ff_ready(void) {
    pthread_once(&ff_once, ff_load);
    if (ff_error[0]) {
        snprintf(last_error, sizeof last_error, "%s", ff_error);
        return -1;
    }
    return 0;
}

#define av_strerror ff.av_strerror
#define av_log_set_level ff.av_log_set_level
#define av_frame_alloc ff.av_frame_alloc
#define av_frame_free ff.av_frame_free
#define av_packet_alloc ff.av_packet_alloc
#define av_packet_free ff.av_packet_free
#define av_packet_unref ff.av_packet_unref
#define avcodec_alloc_context3 ff.avcodec_alloc_context3
#define avcodec_free_context ff.avcodec_free_context
#define avcodec_open2 ff.avcodec_open2
#define avcodec_parameters_to_context ff.avcodec_parameters_to_context
#define avcodec_receive_frame ff.avcodec_receive_frame
#define avcodec_send_packet ff.avcodec_send_packet
#define avformat_open_input ff.avformat_open_input
#define avformat_find_stream_info ff.avformat_find_stream_info
#define av_find_best_stream ff.av_find_best_stream
#define av_read_frame ff.av_read_frame
#define avformat_close_input ff.avformat_close_input
#define sws_getCachedContext ff.sws_getCachedContext
#define sws_scale ff.sws_scale
#define sws_freeContext ff.sws_freeContext

const char *cem_video_last_error(void) { return last_error; }

static void set_error(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(last_error, sizeof last_error, format, args);
    va_end(args);
}

static void set_av_error(const char *what, int code) {
    char text[256];
    av_strerror(code, text, sizeof text);
    set_error("%s: %s", what, text);
}

struct cem_video {
    AVFormatContext *format;
    AVCodecContext *codec;
    struct SwsContext *scaler;
    AVFrame *frame;
    AVPacket *packet;
    uint8_t *bgr;
    int stream;
    int width, height;
    int draining;
};

void cem_video_close(cem_video *video) {
    if (!video) return;
    sws_freeContext(video->scaler);
    av_frame_free(&video->frame);
    av_packet_free(&video->packet);
    avcodec_free_context(&video->codec);
    avformat_close_input(&video->format);
    free(video->bgr);
    free(video);
}

cem_video *cem_video_open(const char *path) {
    last_error[0] = 0;
    if (ff_ready() != 0) return NULL;
    av_log_set_level(AV_LOG_QUIET);
    cem_video *video = calloc(1, sizeof *video);
    if (!video) {
        set_error("out of memory");
        return NULL;
    }
    int status = avformat_open_input(&video->format, path, NULL, NULL);
    if (status < 0) {
        set_av_error("cannot open video", status);
        free(video);
        return NULL;
    }
    if ((status = avformat_find_stream_info(video->format, NULL)) < 0) {
        set_av_error("cannot read stream information", status);
        cem_video_close(video);
        return NULL;
    }
    const AVCodec *decoder = NULL;
    video->stream = av_find_best_stream(video->format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    if (video->stream < 0 || !decoder) {
        set_error("no decodable video stream");
        cem_video_close(video);
        return NULL;
    }
    video->codec = avcodec_alloc_context3(decoder);
    if (!video->codec ||
        avcodec_parameters_to_context(video->codec, video->format->streams[video->stream]->codecpar) < 0 ||
        avcodec_open2(video->codec, decoder, NULL) < 0) {
        set_error("cannot open the %s decoder", decoder->name);
        cem_video_close(video);
        return NULL;
    }
    video->width = video->codec->width;
    video->height = video->codec->height;
    if (video->width <= 0 || video->height <= 0 || (int64_t)video->width * video->height > (1LL << 28)) {
        set_error("invalid frame size %dx%d", video->width, video->height);
        cem_video_close(video);
        return NULL;
    }
    video->frame = av_frame_alloc();
    video->packet = av_packet_alloc();
    video->bgr = malloc((size_t)video->width * video->height * 3);
    if (!video->frame || !video->packet || !video->bgr) {
        set_error("out of memory");
        cem_video_close(video);
        return NULL;
    }
    return video;
}

void cem_video_size(const cem_video *video, int *width, int *height) {
    *width = video->width;
    *height = video->height;
}

static int convert(cem_video *video, uint8_t *dst) {
    AVFrame *frame = video->frame;
    if (frame->width != video->width || frame->height != video->height) {
        set_error("frame size changed mid-stream (%dx%d to %dx%d)", video->width, video->height, frame->width,
                  frame->height);
        return -1;
    }
    video->scaler = sws_getCachedContext(video->scaler, frame->width, frame->height, frame->format, video->width,
                                         video->height, AV_PIX_FMT_BGR24, SWS_BICUBIC, NULL, NULL, NULL);
    if (!video->scaler) {
        set_error("cannot convert pixel format %d", frame->format);
        return -1;
    }
    uint8_t *planes[4] = {video->bgr, NULL, NULL, NULL};
    int strides[4] = {video->width * 3, 0, 0, 0};
    sws_scale(video->scaler, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height, planes, strides);
    size_t count = (size_t)video->width * video->height;
    for (size_t i = 0; i < count; i++) dst[i] = video->bgr[i * 3];
    return 1;
}

int cem_video_next_frame(cem_video *video, uint8_t *dst, size_t dst_len) {
    last_error[0] = 0;
    if (dst_len != (size_t)video->width * video->height) {
        set_error("frame buffer of %zu bytes, need %d", dst_len, video->width * video->height);
        return -1;
    }
    for (;;) {
        int status = avcodec_receive_frame(video->codec, video->frame);
        if (status == 0) return convert(video, dst);
        if (status == AVERROR_EOF) return 0;
        if (status != AVERROR(EAGAIN)) {
            set_av_error("decoding failed", status);
            return -1;
        }
        if (video->draining) return 0;
        status = av_read_frame(video->format, video->packet);
        if (status == AVERROR_EOF) {
            video->draining = 1;
            avcodec_send_packet(video->codec, NULL);
            continue;
        }
        if (status < 0) {
            set_av_error("reading the file failed", status);
            return -1;
        }
        if (video->packet->stream_index == video->stream) {
            status = avcodec_send_packet(video->codec, video->packet);
            av_packet_unref(video->packet);
            if (status < 0 && status != AVERROR(EAGAIN)) {
                set_av_error("corrupt video packet", status);
                return -1;
            }
        } else {
            av_packet_unref(video->packet);
        }
    }
}
