// Video decoding through FFmpeg's libraries (libavformat, libavcodec,
// libswscale): frames come out as single-channel 8-bit planes. Failure = NULL or
// -1 with a message from cem_video_last_error(); nothing is printed.
#ifndef CEM_VIDEO_H
#define CEM_VIDEO_H
#include <stddef.h>
#include <stdint.h>

typedef struct cem_video cem_video;

const char *cem_video_last_error(void);
cem_video *cem_video_open(const char *path);
void cem_video_size(const cem_video *video, int *width, int *height);
/// Decodes the next frame into dst (width*height bytes): the frame converted to
/// BGR24, as OpenCV's VideoCapture returns it, and its first channel kept.
/// Returns 1 for a frame, 0 at the end, -1 on error.
int cem_video_next_frame(cem_video *video, uint8_t *dst, size_t dst_len);
void cem_video_close(cem_video *video);
#endif
