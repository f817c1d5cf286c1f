// CTorch: a flat C API over libtorch (ATen + autograd). Every entry point
// catches C++ exceptions: failure returns NULL or -1 and leaves libtorch's
// message in a thread-local slot (ct_last_error). Tensors are opaque handles,
// freed exactly once with ct_free. No design lives here: it is all in Swift.
#ifndef CTORCH_H
#define CTORCH_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_tensor ct_tensor;

/// dtype codes (stable, cem's own): 0 float32, 1 float64, 2 float16, 3 bfloat16,
/// 4 int64, 5 int32, 6 int16, 7 int8, 8 uint8, 9 bool.
const char *ct_last_error(void);
void ct_free(ct_tensor *t);

// Creation and data
ct_tensor *ct_from_data(const void *data, size_t bytes, const int64_t *shape, int ndim, int dtype);
ct_tensor *ct_full(const int64_t *shape, int ndim, double value, int dtype);
ct_tensor *ct_randn(const int64_t *shape, int ndim, int dtype);
ct_tensor *ct_rand(const int64_t *shape, int ndim, int dtype);
ct_tensor *ct_arange(double start, double end, double step, int dtype);
int ct_copy_data(const ct_tensor *t, void *dst, size_t bytes);
int ct_ndim(const ct_tensor *t);
int ct_shape(const ct_tensor *t, int64_t *out, int capacity);
int ct_dtype(const ct_tensor *t);
int64_t ct_numel(const ct_tensor *t);
double ct_item(const ct_tensor *t, int *ok);
ct_tensor *ct_to_dtype(const ct_tensor *t, int dtype);
ct_tensor *ct_clone(const ct_tensor *t);
ct_tensor *ct_detach(const ct_tensor *t);

// Shapes
ct_tensor *ct_reshape(const ct_tensor *t, const int64_t *shape, int ndim);
/// A view sharing storage (fails when the strides do not allow one).
ct_tensor *ct_view(const ct_tensor *t, const int64_t *shape, int ndim);
ct_tensor *ct_permute(const ct_tensor *t, const int64_t *dims, int ndim);
ct_tensor *ct_transpose(const ct_tensor *t, int64_t a, int64_t b);
ct_tensor *ct_contiguous(const ct_tensor *t);
ct_tensor *ct_slice(const ct_tensor *t, int64_t dim, int64_t start, int64_t end, int64_t step);
ct_tensor *ct_index_select(const ct_tensor *t, int64_t dim, const ct_tensor *index);
ct_tensor *ct_cat(const ct_tensor *const *ts, int n, int64_t dim);
ct_tensor *ct_stack(const ct_tensor *const *ts, int n, int64_t dim);
ct_tensor *ct_flip(const ct_tensor *t, const int64_t *dims, int ndim);
/// mode: 0 constant, 1 reflect, 2 replicate; pad as torch.nn.functional.pad (last dim first).
ct_tensor *ct_pad(const ct_tensor *t, const int64_t *pad, int npad, int mode, double value);

// Arithmetic (op: 0 add, 1 sub, 2 mul, 3 div, 4 eq, 5 lt, 6 gt, 7 maximum, 8 minimum, 9 pow)
ct_tensor *ct_binary(const ct_tensor *a, const ct_tensor *b, int op);
ct_tensor *ct_binary_scalar(const ct_tensor *a, double b, int op);
// Unary (op: 0 neg, 1 exp, 2 log, 3 sqrt, 4 abs, 5 relu, 6 sigmoid, 7 tanh, 8 sign)
ct_tensor *ct_unary(const ct_tensor *t, int op);
ct_tensor *ct_matmul(const ct_tensor *a, const ct_tensor *b);
ct_tensor *ct_einsum(const char *equation, const ct_tensor *const *ts, int n);

// Reductions (op: 0 sum, 1 mean, 2 max, 3 min); ndims == 0 reduces everything.
ct_tensor *ct_reduce(const ct_tensor *t, int op, const int64_t *dims, int ndims, int keepdim);
ct_tensor *ct_argmax(const ct_tensor *t, int64_t dim, int keepdim);
int ct_topk(const ct_tensor *t, int64_t k, int64_t dim, int largest, ct_tensor **values, ct_tensor **indices);

// Neural-network functions
ct_tensor *ct_conv2d(const ct_tensor *x, const ct_tensor *w, const ct_tensor *b, const int64_t *stride,
                     const int64_t *padding, const int64_t *dilation, int64_t groups);
ct_tensor *ct_batch_norm(const ct_tensor *x, const ct_tensor *w, const ct_tensor *b, const ct_tensor *mean,
                         const ct_tensor *var, int training, double momentum, double eps);
ct_tensor *ct_linear(const ct_tensor *x, const ct_tensor *w, const ct_tensor *b);
ct_tensor *ct_max_pool2d(const ct_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         int ceil_mode);
ct_tensor *ct_avg_pool2d(const ct_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding);
ct_tensor *ct_adaptive_avg_pool2d(const ct_tensor *x, const int64_t *size);
/// mode: 0 nearest, 1 bilinear (align_corners 0/1)
ct_tensor *ct_interpolate(const ct_tensor *x, const int64_t *size, int mode, int align_corners);
ct_tensor *ct_softmax(const ct_tensor *x, int64_t dim, int log);
ct_tensor *ct_normalize(const ct_tensor *x, double p, int64_t dim, double eps);
ct_tensor *ct_dropout(const ct_tensor *x, double p, int training);
/// reduction: 0 none, 1 mean, 2 sum
ct_tensor *ct_bce_with_logits(const ct_tensor *x, const ct_tensor *target, const ct_tensor *weight,
                              const ct_tensor *pos_weight, int reduction);
ct_tensor *ct_cross_entropy(const ct_tensor *x, const ct_tensor *target, const ct_tensor *weight, int reduction);

// Autograd and in-place updates
int ct_set_requires_grad(ct_tensor *t, int value);
int ct_requires_grad(const ct_tensor *t);
int ct_backward(const ct_tensor *t);
ct_tensor *ct_grad(const ct_tensor *t);
int ct_zero_grad(ct_tensor *t);
/// Enters / leaves a no-grad scope on this thread (nestable).
int ct_no_grad_push(void);
int ct_no_grad_pop(void);
/// dst += alpha * src; dst *= value; dst.copy_(src); dst = dst + value * t1 * t2 / t3 (addcdiv) or * t2 (addcmul)
int ct_add_(ct_tensor *dst, const ct_tensor *src, double alpha);
int ct_mul_scalar_(ct_tensor *dst, double value);
int ct_copy_(ct_tensor *dst, const ct_tensor *src);
int ct_addcmul_(ct_tensor *dst, const ct_tensor *t1, const ct_tensor *t2, double value);
int ct_addcdiv_(ct_tensor *dst, const ct_tensor *t1, const ct_tensor *t2, double value);

// Runtime
void ct_manual_seed(uint64_t seed);
void ct_set_num_threads(int n);
/// OpenBLAS's own threads (when libtorch calls OpenBLAS and OPENBLAS_NUM_THREADS is unset); 1 if set.
int ct_limit_blas_threads(int n);
int ct_get_num_threads(void);
int ct_cuda_is_available(void);
int ct_cuda_device_count(void);
/// device: -1 CPU, otherwise the CUDA device index.
ct_tensor *ct_to_device(const ct_tensor *t, int device);
int ct_device(const ct_tensor *t);

// c10d: a TCPStore (rank 0 hosts it) and a ProcessGroupGloo over it. Collectives block until done;
// a dead peer fails them within milliseconds, a silent one after timeout_ms. After a failure the group
// refuses every further call (exit the process). Tensors must be dense CPU tensors, not bfloat16/bool.
typedef struct ct_store ct_store;
typedef struct ct_process_group ct_process_group;
/// port 0 with is_server: any free port (ct_store_port tells which). Does not wait for the others.
ct_store *ct_store_create(const char *host, int port, int is_server, int world_size, int64_t timeout_ms);
int ct_store_port(const ct_store *store);
void ct_store_free(ct_store *store);
/// Joins the group (waits for every rank, up to timeout_ms). prefix: the store keys' prefix (NULL or "":
/// "default_pg", as torch's default group). bind_host: the address Gloo listens on (e.g. "127.0.0.1");
/// NULL or "": $GLOO_SOCKET_IFNAME's interfaces, else the host name's address.
ct_process_group *ct_pg_create(const ct_store *store, const char *prefix, int rank, int world_size, int64_t timeout_ms,
                               const char *bind_host);
void ct_pg_free(ct_process_group *group);
int ct_pg_rank(const ct_process_group *group);
int ct_pg_size(const ct_process_group *group);
/// In place: each tensor becomes the sum over ranks. Tensors go in flat buckets of bucket_bytes, all
/// launched before the first is waited for.
int ct_pg_allreduce_sum(ct_process_group *group, ct_tensor *const *tensors, int n, int64_t bucket_bytes);
/// In place: each tensor becomes root's (bucketed the same way).
int ct_pg_broadcast(ct_process_group *group, ct_tensor *const *tensors, int n, int root, int64_t bucket_bytes);
/// Every rank's tensor (same shape everywhere), concatenated along dim 0 in rank order (stacked for 0-d).
ct_tensor *ct_pg_all_gather(ct_process_group *group, const ct_tensor *tensor);
int ct_pg_barrier(ct_process_group *group);

#ifdef __cplusplus
}
#endif
#endif
