// The only C++ in cem. Mechanical: unwrap handles, call ATen, wrap results,
// turn every exception into an error code plus a thread-local message.
#include "include/ctorch.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <chrono>
#include <dlfcn.h>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct ct_tensor {
    at::Tensor value;
};

namespace {
thread_local std::string last_error;
thread_local std::vector<std::unique_ptr<at::NoGradGuard>> no_grad_guards;

ct_tensor *wrap(at::Tensor t) { return new ct_tensor{std::move(t)}; }

at::ScalarType scalar(int code) {
    switch (code) {
    case 0: return at::kFloat;
    case 1: return at::kDouble;
    case 2: return at::kHalf;
    case 3: return at::kBFloat16;
    case 4: return at::kLong;
    case 5: return at::kInt;
    case 6: return at::kShort;
    case 7: return at::kChar;
    case 8: return at::kByte;
    case 9: return at::kBool;
    default: throw std::invalid_argument("unknown dtype code " + std::to_string(code));
    }
}

int code(at::ScalarType type) {
    switch (type) {
    case at::kFloat: return 0;
    case at::kDouble: return 1;
    case at::kHalf: return 2;
    case at::kBFloat16: return 3;
    case at::kLong: return 4;
    case at::kInt: return 5;
    case at::kShort: return 6;
    case at::kChar: return 7;
    case at::kByte: return 8;
    case at::kBool: return 9;
    default: return -1;
    }
}

at::IntArrayRef dims(const int64_t *values, int n) { return at::IntArrayRef(values, static_cast<size_t>(n)); }
c10::optional<at::Tensor> optional(const ct_tensor *t) {
    return t ? c10::optional<at::Tensor>(t->value) : c10::nullopt;
}
at::Reduction::Reduction reduction(int r) {
    return r == 0 ? at::Reduction::None : (r == 2 ? at::Reduction::Sum : at::Reduction::Mean);
}
}  // namespace

#define PROTECT(body, failure)                        \
    try {                                             \
        body                                          \
    } catch (const std::exception &e) {               \
        last_error = e.what();                        \
        return failure;                               \
    } catch (...) {                                   \
        last_error = "unknown libtorch error";        \
        return failure;                               \
    }
#define TENSOR(expr) PROTECT(return wrap(expr);, nullptr)
#define STATUS(body) PROTECT(body return 0;, -1)

extern "C" {

const char *ct_last_error(void) { return last_error.c_str(); }
void ct_free(ct_tensor *t) { delete t; }

ct_tensor *ct_from_data(const void *data, size_t bytes, const int64_t *shape, int ndim, int dtype) {
    PROTECT(
        auto type = scalar(dtype);
        int64_t count = 1;
        for (int i = 0; i < ndim; i++) {
            if (shape[i] < 0) throw std::invalid_argument("negative dimension");
            count *= shape[i];
        }
        size_t need = static_cast<size_t>(count) * c10::elementSize(type);
        if (need != bytes) throw std::invalid_argument("buffer of " + std::to_string(bytes) + " bytes for a tensor of " + std::to_string(need));
        auto t = at::empty(dims(shape, ndim), at::TensorOptions().dtype(type));
        if (need) std::memcpy(t.data_ptr(), data, need);
        return wrap(t);, nullptr)
}
ct_tensor *ct_full(const int64_t *shape, int ndim, double value, int dtype) {
    TENSOR(at::full(dims(shape, ndim), value, at::TensorOptions().dtype(scalar(dtype))))
}
ct_tensor *ct_randn(const int64_t *shape, int ndim, int dtype) {
    TENSOR(at::randn(dims(shape, ndim), at::TensorOptions().dtype(scalar(dtype))))
}
ct_tensor *ct_rand(const int64_t *shape, int ndim, int dtype) {
    TENSOR(at::rand(dims(shape, ndim), at::TensorOptions().dtype(scalar(dtype))))
}
ct_tensor *ct_arange(double start, double end, double step, int dtype) {
    TENSOR(at::arange(start, end, step, at::TensorOptions().dtype(scalar(dtype))))
}
int ct_copy_data(const ct_tensor *t, void *dst, size_t bytes) {
    STATUS(
        auto c = t->value.detach().to(at::kCPU).contiguous();
        size_t need = static_cast<size_t>(c.numel()) * c.element_size();
        if (need != bytes) throw std::invalid_argument("buffer of " + std::to_string(bytes) + " bytes, tensor has " + std::to_string(need));
        if (need) std::memcpy(dst, c.data_ptr(), need);)
}
int ct_ndim(const ct_tensor *t) { return static_cast<int>(t->value.dim()); }
int ct_shape(const ct_tensor *t, int64_t *out, int capacity) {
    int n = static_cast<int>(t->value.dim());
    for (int i = 0; i < n && i < capacity; i++) out[i] = t->value.size(i);
    return n;
}
int ct_dtype(const ct_tensor *t) { return code(t->value.scalar_type()); }
int64_t ct_numel(const ct_tensor *t) { return t->value.numel(); }
double ct_item(const ct_tensor *t, int *ok) {
    try {
        *ok = 1;
        return t->value.item<double>();
    } catch (const std::exception &e) {
        last_error = e.what();
        *ok = 0;
        return 0;
    }
}
ct_tensor *ct_to_dtype(const ct_tensor *t, int dtype) { TENSOR(t->value.to(scalar(dtype))) }
ct_tensor *ct_clone(const ct_tensor *t) { TENSOR(t->value.clone()) }
ct_tensor *ct_detach(const ct_tensor *t) { TENSOR(t->value.detach()) }

ct_tensor *ct_reshape(const ct_tensor *t, const int64_t *shape, int ndim) { TENSOR(t->value.reshape(dims(shape, ndim))) }
ct_tensor *ct_view(const ct_tensor *t, const int64_t *shape, int ndim) { TENSOR(t->value.view(dims(shape, ndim))) }
ct_tensor *ct_permute(const ct_tensor *t, const int64_t *d, int ndim) { TENSOR(t->value.permute(dims(d, ndim))) }
ct_tensor *ct_transpose(const ct_tensor *t, int64_t a, int64_t b) { TENSOR(t->value.transpose(a, b)) }
ct_tensor *ct_contiguous(const ct_tensor *t) { TENSOR(t->value.contiguous()) }
ct_tensor *ct_slice(const ct_tensor *t, int64_t dim, int64_t start, int64_t end, int64_t step) {
    TENSOR(t->value.slice(dim, start, end, step))
}
ct_tensor *ct_index_select(const ct_tensor *t, int64_t dim, const ct_tensor *index) {
    TENSOR(t->value.index_select(dim, index->value))
}
static std::vector<at::Tensor> list(const ct_tensor *const *ts, int n) {
    std::vector<at::Tensor> out;
    for (int i = 0; i < n; i++) out.push_back(ts[i]->value);
    return out;
}
ct_tensor *ct_cat(const ct_tensor *const *ts, int n, int64_t dim) { TENSOR(at::cat(list(ts, n), dim)) }
ct_tensor *ct_stack(const ct_tensor *const *ts, int n, int64_t dim) { TENSOR(at::stack(list(ts, n), dim)) }
ct_tensor *ct_flip(const ct_tensor *t, const int64_t *d, int ndim) { TENSOR(t->value.flip(dims(d, ndim))) }
ct_tensor *ct_pad(const ct_tensor *t, const int64_t *pad, int npad, int mode, double value) {
    PROTECT(
        auto p = dims(pad, npad);
        if (mode == 0) return wrap(at::constant_pad_nd(t->value, p, value));
        if (mode == 1) return wrap(npad == 2 ? at::reflection_pad1d(t->value, p) : at::reflection_pad2d(t->value, p));
        return wrap(npad == 2 ? at::replication_pad1d(t->value, p) : at::replication_pad2d(t->value, p));, nullptr)
}

ct_tensor *ct_binary(const ct_tensor *a, const ct_tensor *b, int op) {
    PROTECT(
        const auto &x = a->value; const auto &y = b->value;
        switch (op) {
        case 0: return wrap(x + y);
        case 1: return wrap(x - y);
        case 2: return wrap(x * y);
        case 3: return wrap(x / y);
        case 4: return wrap(x.eq(y));
        case 5: return wrap(x.lt(y));
        case 6: return wrap(x.gt(y));
        case 7: return wrap(at::maximum(x, y));
        case 8: return wrap(at::minimum(x, y));
        case 9: return wrap(x.pow(y));
        default: throw std::invalid_argument("unknown binary op");
        }, nullptr)
}
ct_tensor *ct_binary_scalar(const ct_tensor *a, double b, int op) {
    PROTECT(
        const auto &x = a->value;
        switch (op) {
        case 0: return wrap(x + b);
        case 1: return wrap(x - b);
        case 2: return wrap(x * b);
        case 3: return wrap(x / b);
        case 4: return wrap(x.eq(b));
        case 5: return wrap(x.lt(b));
        case 6: return wrap(x.gt(b));
        case 7: return wrap(at::clamp_min(x, b));
        case 8: return wrap(at::clamp_max(x, b));
        case 9: return wrap(x.pow(b));
        default: throw std::invalid_argument("unknown binary op");
        }, nullptr)
}
ct_tensor *ct_unary(const ct_tensor *t, int op) {
    PROTECT(
        const auto &x = t->value;
        switch (op) {
        case 0: return wrap(-x);
        case 1: return wrap(x.exp());
        case 2: return wrap(x.log());
        case 3: return wrap(x.sqrt());
        case 4: return wrap(x.abs());
        case 5: return wrap(at::relu(x));
        case 6: return wrap(at::sigmoid(x));
        case 7: return wrap(at::tanh(x));
        case 8: return wrap(x.sign());
        default: throw std::invalid_argument("unknown unary op");
        }, nullptr)
}
ct_tensor *ct_matmul(const ct_tensor *a, const ct_tensor *b) { TENSOR(at::matmul(a->value, b->value)) }
ct_tensor *ct_einsum(const char *equation, const ct_tensor *const *ts, int n) { TENSOR(at::einsum(equation, list(ts, n))) }

ct_tensor *ct_reduce(const ct_tensor *t, int op, const int64_t *d, int ndims, int keepdim) {
    PROTECT(
        const auto &x = t->value;
        if (ndims == 0) {
            switch (op) {
            case 0: return wrap(x.sum());
            case 1: return wrap(x.mean());
            case 2: return wrap(x.max());
            case 3: return wrap(x.min());
            }
        } else {
            switch (op) {
            case 0: return wrap(x.sum(dims(d, ndims), keepdim != 0));
            case 1: return wrap(x.mean(dims(d, ndims), keepdim != 0));
            case 2: return wrap(at::amax(x, dims(d, ndims), keepdim != 0));
            case 3: return wrap(at::amin(x, dims(d, ndims), keepdim != 0));
            }
        }
        throw std::invalid_argument("unknown reduction");, nullptr)
}
ct_tensor *ct_argmax(const ct_tensor *t, int64_t dim, int keepdim) { TENSOR(t->value.argmax(dim, keepdim != 0)) }
int ct_topk(const ct_tensor *t, int64_t k, int64_t dim, int largest, ct_tensor **values, ct_tensor **indices) {
    STATUS(
        auto result = t->value.topk(k, dim, largest != 0);
        *values = wrap(std::get<0>(result));
        *indices = wrap(std::get<1>(result));)
}

ct_tensor *ct_conv2d(const ct_tensor *x, const ct_tensor *w, const ct_tensor *b, const int64_t *stride,
                     const int64_t *padding, const int64_t *dilation, int64_t groups) {
    TENSOR(at::conv2d(x->value, w->value, optional(b), dims(stride, 2), dims(padding, 2), dims(dilation, 2), groups))
}
ct_tensor *ct_batch_norm(const ct_tensor *x, const ct_tensor *w, const ct_tensor *b, const ct_tensor *mean,
                         const ct_tensor *var, int training, double momentum, double eps) {
    TENSOR(at::batch_norm(x->value, optional(w), optional(b), optional(mean), optional(var), training != 0, momentum,
                          eps, true))
}
ct_tensor *ct_linear(const ct_tensor *x, const ct_tensor *w, const ct_tensor *b) { TENSOR(at::linear(x->value, w->value, optional(b))) }
ct_tensor *ct_max_pool2d(const ct_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         int ceil_mode) {
    int64_t dilation[2] = {1, 1};
    TENSOR(at::max_pool2d(x->value, dims(kernel, 2), dims(stride, 2), dims(padding, 2), dims(dilation, 2), ceil_mode != 0))
}
ct_tensor *ct_avg_pool2d(const ct_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding) {
    TENSOR(at::avg_pool2d(x->value, dims(kernel, 2), dims(stride, 2), dims(padding, 2)))
}
ct_tensor *ct_adaptive_avg_pool2d(const ct_tensor *x, const int64_t *size) { TENSOR(at::adaptive_avg_pool2d(x->value, dims(size, 2))) }
ct_tensor *ct_interpolate(const ct_tensor *x, const int64_t *size, int mode, int align_corners) {
    PROTECT(
        if (mode == 0) return wrap(at::upsample_nearest2d(x->value, dims(size, 2)));
        return wrap(at::upsample_bilinear2d(x->value, dims(size, 2), align_corners != 0));, nullptr)
}
ct_tensor *ct_softmax(const ct_tensor *x, int64_t dim, int log) {
    TENSOR(log ? at::log_softmax(x->value, dim) : at::softmax(x->value, dim))
}
ct_tensor *ct_normalize(const ct_tensor *x, double p, int64_t dim, double eps) {
    PROTECT(
        auto norm = x->value.norm(p, dim, true).clamp_min(eps);
        return wrap(x->value / norm);, nullptr)
}
ct_tensor *ct_dropout(const ct_tensor *x, double p, int training) { TENSOR(at::dropout(x->value, p, training != 0)) }
ct_tensor *ct_bce_with_logits(const ct_tensor *x, const ct_tensor *target, const ct_tensor *weight,
                              const ct_tensor *pos_weight, int red) {
    TENSOR(at::binary_cross_entropy_with_logits(x->value, target->value, optional(weight), optional(pos_weight),
                                                reduction(red)))
}
ct_tensor *ct_cross_entropy(const ct_tensor *x, const ct_tensor *target, const ct_tensor *weight, int red) {
    TENSOR(at::cross_entropy_loss(x->value, target->value, optional(weight), reduction(red)))
}

int ct_set_requires_grad(ct_tensor *t, int value) { STATUS(t->value.set_requires_grad(value != 0);) }
int ct_requires_grad(const ct_tensor *t) { return t->value.requires_grad() ? 1 : 0; }
int ct_backward(const ct_tensor *t) { STATUS(t->value.backward();) }
ct_tensor *ct_grad(const ct_tensor *t) {
    PROTECT(
        auto g = t->value.grad();
        if (!g.defined()) { last_error = "no gradient"; return nullptr; }
        return wrap(g);, nullptr)
}
int ct_zero_grad(ct_tensor *t) {
    STATUS(auto &g = t->value.mutable_grad(); if (g.defined()) g = at::Tensor();)
}
int ct_no_grad_push(void) { STATUS(no_grad_guards.push_back(std::make_unique<at::NoGradGuard>());) }
int ct_no_grad_pop(void) {
    STATUS(if (no_grad_guards.empty()) throw std::logic_error("no-grad scope underflow"); no_grad_guards.pop_back();)
}
int ct_add_(ct_tensor *dst, const ct_tensor *src, double alpha) {
    // Integer tensors (num_batches_tracked) need an integral alpha.
    STATUS(dst->value.add_(src->value, dst->value.is_floating_point() ? at::Scalar(alpha)
                                                                      : at::Scalar(static_cast<int64_t>(alpha)));)
}
int ct_mul_scalar_(ct_tensor *dst, double value) { STATUS(dst->value.mul_(value);) }
int ct_copy_(ct_tensor *dst, const ct_tensor *src) { STATUS(dst->value.copy_(src->value);) }
int ct_addcmul_(ct_tensor *dst, const ct_tensor *t1, const ct_tensor *t2, double value) {
    STATUS(dst->value.addcmul_(t1->value, t2->value, value);)
}
int ct_addcdiv_(ct_tensor *dst, const ct_tensor *t1, const ct_tensor *t2, double value) {
    STATUS(dst->value.addcdiv_(t1->value, t2->value, value);)
}

void ct_manual_seed(uint64_t seed) { at::manual_seed(seed); }
void ct_set_num_threads(int n) { at::set_num_threads(n); }

// Debian's libtorch does its own intra-op threading (OpenMP) and also calls a threaded OpenBLAS: on small
// convolutions the two pools fight for the same cores (measured: U-Net slices twice as slow, most of the
// time in the kernel). One BLAS thread lets libtorch's pool use the cores; a user's OPENBLAS_NUM_THREADS wins.
int ct_limit_blas_threads(int n) {
    if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return 0;
    using SetThreads = void (*)(int);
    auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    if (set == nullptr) return 0;
    set(n);
    return 1;
}
int ct_get_num_threads(void) { return at::get_num_threads(); }
int ct_cuda_is_available(void) { return at::hasCUDA() ? 1 : 0; }
int ct_cuda_device_count(void) {
    try {
        return at::hasCUDA() ? static_cast<int>(at::getNumGPUs()) : 0;
    } catch (...) {
        return 0;
    }
}
ct_tensor *ct_to_device(const ct_tensor *t, int device) {
    TENSOR(device < 0 ? t->value.to(at::kCPU) : t->value.to(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device))))
}
int ct_device(const ct_tensor *t) { return t->value.is_cuda() ? static_cast<int>(t->value.get_device()) : -1; }
}  // extern "C"

// MARK: c10d (ProcessGroupGloo over a TCPStore)
//
// A failed collective leaves the group unusable (gloo's pairs are closed or out of step): the handle
// remembers it, refuses further collectives, and is leaked rather than destroyed (the destructor joins
// worker threads that may still wait on a dead peer).
#ifdef USE_C10D_GLOO
struct ct_store {
    c10::intrusive_ptr<c10d::TCPStore> tcp;
};
struct ct_process_group {
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
    bool failed = false;
};

namespace {
void usable(const ct_process_group *g) {
    if (g->failed) throw std::runtime_error("the process group failed earlier and cannot be used any more");
}
void reducible(const at::Tensor &t) {
    if (!t.defined()) throw std::invalid_argument("undefined tensor");
    if (t.layout() != at::kStrided || !t.device().is_cpu())
        throw std::invalid_argument("Gloo collectives take dense CPU tensors");
    if (t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kBool)
        throw std::invalid_argument(std::string("Gloo cannot reduce ") + c10::toString(t.scalar_type()) + " tensors");
}
/// Tensors are packed, per dtype and in order, into flat buckets of at most `bucket_bytes` (a larger
/// tensor is a bucket by itself, used in place when contiguous); `launch` starts the collective on each
/// bucket, all buckets are launched before the first is waited for, and the results are copied back.
template <class Launch>
void bucketed(ct_process_group *g, const std::vector<at::Tensor> &ts, int64_t bucket_bytes, Launch launch) {
    at::NoGradGuard no_grad;
    struct Bucket {
        std::vector<at::Tensor> members;
        int64_t bytes = 0;
        at::Tensor flat;
        c10::intrusive_ptr<c10d::Work> work;
    };
    std::vector<Bucket> buckets;
    std::map<at::ScalarType, size_t> open;  // the bucket still filling, per dtype
    for (const auto &t : ts) reducible(t);
    for (const auto &t : ts) {
        int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
        auto found = open.find(t.scalar_type());
        if (found == open.end() || buckets[found->second].bytes + bytes > bucket_bytes) {
            buckets.emplace_back();
            open[t.scalar_type()] = buckets.size() - 1;
        }
        auto &bucket = buckets[open[t.scalar_type()]];
        bucket.members.push_back(t);
        bucket.bytes += bytes;
    }
    for (auto &b : buckets) {
        if (b.members.size() == 1 && b.members[0].is_contiguous()) {
            b.flat = b.members[0].view({-1});
        } else {
            std::vector<at::Tensor> flat;
            for (const auto &t : b.members) flat.push_back(t.reshape({-1}));
            b.flat = at::cat(flat, 0);
        }
        b.work = launch(b.flat);
    }
    for (auto &b : buckets) b.work->wait();
    for (auto &b : buckets) {
        if (b.members.size() == 1 && b.members[0].is_contiguous()) continue;
        int64_t offset = 0;
        for (auto &t : b.members) {
            t.copy_(b.flat.slice(0, offset, offset + t.numel()).view(t.sizes()));
            offset += t.numel();
        }
    }
}
}  // namespace

/// PROTECT without the C++ backtrace c10::Error appends to its message.
#define PROTECT_DIST(body, failure)                   \
    try {                                             \
        body                                          \
    } catch (const c10::Error &e) {                   \
        last_error = e.what_without_backtrace();      \
        return failure;                               \
    } catch (const std::exception &e) {               \
        last_error = e.what();                        \
        return failure;                               \
    } catch (...) {                                   \
        last_error = "unknown c10d error";            \
        return failure;                               \
    }
/// Marks the group failed when `body` throws anything but a refusal of its arguments.
#define GUARD_GROUP(g, body)                                \
    usable(g);                                              \
    try {                                                   \
        body                                                \
    } catch (const std::invalid_argument &) {               \
        throw;                                              \
    } catch (...) {                                         \
        g->failed = true;                                   \
        throw;                                              \
    }
#define COLLECTIVE(g, body) PROTECT_DIST(GUARD_GROUP(g, body) return 0;, -1)
#endif

extern "C" {
#ifdef USE_C10D_GLOO
ct_store *ct_store_create(const char *host, int port, int is_server, int world_size, int64_t timeout_ms) {
    PROTECT_DIST(
        if (port < 0 || port > 65535) throw std::invalid_argument("port " + std::to_string(port) + " out of range");
        if (world_size < 1) throw std::invalid_argument("world size must be at least 1");
        c10d::TCPStoreOptions options;
        options.port = static_cast<std::uint16_t>(port);
        options.isServer = is_server != 0;
        options.numWorkers = static_cast<std::size_t>(world_size);
        options.waitWorkers = false;  // the process group's rendezvous waits for everyone
        options.timeout = std::chrono::milliseconds(timeout_ms);
        return new ct_store{c10::make_intrusive<c10d::TCPStore>(std::string(host), options)};, nullptr)
}
int ct_store_port(const ct_store *s) { return static_cast<int>(s->tcp->getPort()); }
void ct_store_free(ct_store *s) { delete s; }

ct_process_group *ct_pg_create(const ct_store *s, const char *prefix, int rank, int world_size, int64_t timeout_ms,
                               const char *bind_host) {
    PROTECT_DIST(
        if (rank < 0 || rank >= world_size) throw std::invalid_argument("rank " + std::to_string(rank) + " outside a world of " + std::to_string(world_size));
        auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(timeout_ms));
        const char *interfaces = std::getenv("GLOO_SOCKET_IFNAME");
        if (bind_host && *bind_host) {
            options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(bind_host));
        } else if (interfaces && *interfaces) {
            std::string list(interfaces);
            size_t start = 0;
            while (start <= list.size()) {
                size_t end = list.find(',', start);
                if (end == std::string::npos) end = list.size();
                if (end > start) options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(list.substr(start, end - start)));
                start = end + 1;
            }
        } else {
            options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
        }
        c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::PrefixStore>(prefix && *prefix ? prefix : "default_pg", s->tcp);
        auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
        auto *group = new ct_process_group();
        group->store = store;
        group->pg = pg;
        return group;, nullptr)
}
void ct_pg_free(ct_process_group *g) {
    if (!g) return;
    if (g->failed) {
        g->pg.release();     // deliberately leaked: see above
        g->store.release();
    }
    delete g;
}
int ct_pg_rank(const ct_process_group *g) { return g->pg->getRank(); }
int ct_pg_size(const ct_process_group *g) { return g->pg->getSize(); }

int ct_pg_allreduce_sum(ct_process_group *g, ct_tensor *const *ts, int n, int64_t bucket_bytes) {
    COLLECTIVE(g,
        std::vector<at::Tensor> tensors;
        for (int i = 0; i < n; i++) tensors.push_back(ts[i]->value);
        bucketed(g, tensors, bucket_bytes, [&](at::Tensor &flat) {
            std::vector<at::Tensor> one{flat};
            c10d::AllreduceOptions options;
            options.reduceOp = c10d::ReduceOp::SUM;
            return g->pg->allreduce(one, options);
        });)
}
int ct_pg_broadcast(ct_process_group *g, ct_tensor *const *ts, int n, int root, int64_t bucket_bytes) {
    COLLECTIVE(g,
        if (root < 0 || root >= g->pg->getSize()) throw std::invalid_argument("broadcast root " + std::to_string(root) + " is not a rank");
        std::vector<at::Tensor> tensors;
        for (int i = 0; i < n; i++) tensors.push_back(ts[i]->value);
        bucketed(g, tensors, bucket_bytes, [&](at::Tensor &flat) {
            std::vector<at::Tensor> one{flat};
            c10d::BroadcastOptions options;
            options.rootRank = root;
            return g->pg->broadcast(one, options);
        });)
}
ct_tensor *ct_pg_all_gather(ct_process_group *g, const ct_tensor *t) {
    PROTECT_DIST(
        at::Tensor result;
        GUARD_GROUP(g,
            reducible(t->value);
            at::NoGradGuard no_grad;
            std::vector<at::Tensor> input{t->value.contiguous()};
            std::vector<std::vector<at::Tensor>> output(1);
            for (int i = 0; i < g->pg->getSize(); i++) output[0].push_back(at::empty_like(input[0]));
            g->pg->allgather(output, input)->wait();
            result = input[0].dim() == 0 ? at::stack(output[0], 0) : at::cat(output[0], 0);)
        return wrap(result);, nullptr)
}
int ct_pg_barrier(ct_process_group *g) { COLLECTIVE(g, g->pg->barrier()->wait();) }
#else
ct_store *ct_store_create(const char *, int, int, int, int64_t) {
    last_error = "cem was built without c10d (USE_C10D_GLOO)";
    return nullptr;
}
int ct_store_port(const ct_store *) { return -1; }
void ct_store_free(ct_store *) {}
ct_process_group *ct_pg_create(const ct_store *, const char *, int, int, int64_t, const char *) {
    last_error = "cem was built without c10d (USE_C10D_GLOO)";
    return nullptr;
}
void ct_pg_free(ct_process_group *) {}
int ct_pg_rank(const ct_process_group *) { return 0; }
int ct_pg_size(const ct_process_group *) { return 1; }
int ct_pg_allreduce_sum(ct_process_group *, ct_tensor *const *, int, int64_t) { return -1; }
int ct_pg_broadcast(ct_process_group *, ct_tensor *const *, int, int, int64_t) { return -1; }
ct_tensor *ct_pg_all_gather(ct_process_group *, const ct_tensor *) { return nullptr; }
int ct_pg_barrier(ct_process_group *) { return -1; }
#endif
}
