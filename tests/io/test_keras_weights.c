/* test_keras_weights.c - Keras HDF5 weights files (save_weights / load_weights).
 *
 * - round trip ours -> file -> ours, bit-exact, for a small model with Conv2D, BN,
 *   DepthwiseConv2D, Dense and a nested model (partly frozen, so its weights are saved
 *   trainable first), weights versions bumped;
 * - the file layout read back with libhdf5 (layer_names, weight_names, dataset paths,
 *   float32, contiguous, shapes, string encodings), and the book's model's layer_names
 *   (VGG16 base nested + head);
 * - files written here by hand with libhdf5: the legacy VGG16 download layout (loads by
 *   order into ic_app_vgg16), variable-length and fixed-length strings, split
 *   layer_names0/1, Keras 3 names without ":0", a model file's model_weights group;
 * - by-name loading with skip_mismatch and missing layers; every mismatch error by message;
 *   damaged files (truncated, garbage, empty, missing) give clear errors and leave the
 *   model untouched; saving into a missing directory leaves no temporary file;
 * - the shared MobileNetV2 files' layer_names / weight_names;
 * - fault injection (fail the Nth allocation) over save and load.
 */
#include <dirent.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "graph/graph.h"
#include "harness.h"
#include "io/io_impl.h"

/* Damaged size fields make libhdf5 try huge allocations, which fail cleanly (NULL, then an
 * HDF5 error) in a normal build; AddressSanitizer would abort instead of returning NULL. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
/* libhdf5 leaks small blocks on some error paths when it reads damaged files. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5_serial\n"; }

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

/* ---- Models ---- */

typedef struct {
    int in_c;          /* input channels of the nested base (3) */
    const char *base;  /* nested model name ("base") */
    int fc1_units;     /* 5 */
    int fc1_bias;      /* 1 */
    int bn_head;       /* 1 */
    int out_units;     /* 1 */
    int extra;         /* adds Dense "extra" at the end */
} spec;

static spec spec_default(void)
{
    spec s = {3, "base", 5, 1, 1, 1, 0};
    return s;
}

static void fill_weights(ic_model *m, unsigned seed)
{
    for (int i = 0; i < ic_model_num_weights(m); i++) {
        ic_tensor *t = ic_model_weight_mut(m, i, NULL);
        t_fill_uniform(ic_tensor_data(t), (long)ic_tensor_numel(t), seed * 1000 + (unsigned)i, -1,
                       1);
    }
}

/* Sequential "outer": base (nested functional: conv, bn, depthwise, pool; conv frozen),
 * flat, fc1, [bn_head], out, [extra]. */
static ic_model *build(const spec *sp, unsigned seed)
{
    ic_set_random_seed(seed);
    ic_model *in, *m;
    ic_layer *l;
    int x;
    int64_t shape[3] = {8, 8, sp->in_c};
    OK(ic_model_create(&in, sp->base, 0));
    OK(ic_model_input(in, 3, shape, "b_input", &x));
    ic_conv2d_opts c = ic_conv2d_opts_default(4, 3, 3);
    c.padding = IC_PAD_SAME;
    c.name = "b_conv1";
    OK(ic_layer_conv2d(&l, &c));
    ic_layer_set_trainable(l, 0);
    OK(ic_model_apply(in, l, 1, &x, &x));
    ic_batchnorm_opts bo = ic_batchnorm_opts_default();
    bo.name = "b_bn1";
    OK(ic_layer_batch_normalization(&l, &bo));
    OK(ic_model_apply(in, l, 1, &x, &x));
    c = ic_conv2d_opts_default(0, 3, 3);
    c.padding = IC_PAD_SAME;
    c.name = "b_dw1";
    OK(ic_layer_depthwise_conv2d(&l, &c));
    OK(ic_model_apply(in, l, 1, &x, &x));
    ic_pool2d_opts po = ic_pool2d_opts_default();
    po.name = "b_pool";
    OK(ic_layer_max_pooling2d(&l, &po));
    OK(ic_model_apply(in, l, 1, &x, &x));

    OK(ic_model_create(&m, "outer", 1));
    OK(ic_layer_from_model(&l, in));
    OK(ic_model_add(m, l));
    OK(ic_layer_flatten(&l, "flat"));
    OK(ic_model_add(m, l));
    OK(ic_layer_dense(&l, sp->fc1_units, IC_ACT_RELU, sp->fc1_bias, "fc1"));
    OK(ic_model_add(m, l));
    if (sp->bn_head) {
        bo.name = "bn_head";
        OK(ic_layer_batch_normalization(&l, &bo));
        OK(ic_model_add(m, l));
    }
    OK(ic_layer_dense(&l, sp->out_units, IC_ACT_SIGMOID, 1, "out"));
    OK(ic_model_add(m, l));
    if (sp->extra) {
        OK(ic_layer_dense(&l, 3, IC_ACT_LINEAR, 1, "extra"));
        OK(ic_model_add(m, l));
    }
    fill_weights(m, seed);
    return m;
}

static ic_model *build_default(unsigned seed)
{
    spec s = spec_default();
    return build(&s, seed);
}

/* All weights of a model, concatenated. */
typedef struct {
    float *v;
    long n;
} snap;

static snap take(const ic_model *m)
{
    snap s = {NULL, 0};
    for (int i = 0; i < ic_model_num_weights(m); i++)
        s.n += (long)ic_tensor_numel(ic_model_weight(m, i, NULL));
    s.v = malloc((size_t)(s.n ? s.n : 1) * sizeof(float));
    long o = 0;
    for (int i = 0; i < ic_model_num_weights(m); i++) {
        const ic_tensor *t = ic_model_weight(m, i, NULL);
        memcpy(s.v + o, ic_tensor_cdata(t), (size_t)ic_tensor_numel(t) * sizeof(float));
        o += (long)ic_tensor_numel(t);
    }
    return s;
}

static int same(const ic_model *m, snap s)
{
    snap now = take(m);
    int eq = now.n == s.n && !memcmp(now.v, s.v, (size_t)s.n * sizeof(float));
    free(now.v);
    return eq;
}

/* Weight tensor of layer `layer` (top level), param index k. */
static ic_tensor *lw(const ic_model *m, const char *layer, int k)
{
    ic_layer *l = ic_model_get_layer(m, layer);
    return l && k < l->n_params ? &l->params[k]->value : NULL;
}

static int tensors_equal(const ic_tensor *a, const ic_tensor *b)
{
    return a && b && ic_tensor_numel(a) == ic_tensor_numel(b) &&
           !memcmp(a->data, b->data,
                   (size_t)ic_tensor_numel(a) * sizeof(float));
}

static float *dup_t(const ic_tensor *t)
{
    size_t n = (size_t)ic_tensor_numel(t) * sizeof(float);
    float *c = malloc(n);
    memcpy(c, t->data, n);
    return c;
}

static int same_t(const ic_tensor *t, const float *v)
{
    return !memcmp(t->data, v, (size_t)ic_tensor_numel(t) * sizeof(float));
}

/* ---- Writing files by hand (as other Keras versions do) ---- */

static void w_strs(hid_t obj, const char *name, const char *const *v, int n, int vlen)
{
    hsize_t dim = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dim, NULL), t, a;
    if (n == 0) {
        a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Aclose(a);
        H5Sclose(sp);
        return;
    }
    t = H5Tcopy(H5T_C_S1);
    if (vlen) {
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        CHECK(H5Awrite(a, t, v) >= 0);
    } else {
        size_t w = 1;
        for (int i = 0; i < n; i++)
            if (strlen(v[i]) > w)
                w = strlen(v[i]);
        char *buf = calloc((size_t)n, w);
        for (int i = 0; i < n; i++)
            memcpy(buf + (size_t)i * w, v[i], strlen(v[i]));
        H5Tset_size(t, w);
        H5Tset_strpad(t, H5T_STR_NULLPAD);
        a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        CHECK(H5Awrite(a, t, buf) >= 0);
        free(buf);
    }
    H5Aclose(a);
    H5Tclose(t);
    H5Sclose(sp);
}

static void w_dataset(hid_t g, const char *path, const ic_tensor *t, int as_f64)
{
    hsize_t d[4];
    for (int i = 0; i < t->ndim; i++)
        d[i] = (hsize_t)t->shape[i];
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = H5Screate_simple(t->ndim, d, NULL);
    hid_t ds = H5Dcreate2(g, path, as_f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32BE, sp, lcpl,
                          H5P_DEFAULT, H5P_DEFAULT);
    CHECKF(ds >= 0, "creating %s", path);
    CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Pclose(lcpl);
}

typedef struct {
    int vlen;              /* variable-length strings everywhere */
    int split;             /* layer_names0 / layer_names1 */
    int no_suffix;         /* Keras 3: weight names without ":0" */
    int in_model_weights;  /* under group model_weights (a full model file) */
    const char *f64_layer; /* this layer's first tensor stored as float64 */
    const char *drop_data; /* this layer's first dataset missing */
    const char *no_group;  /* this layer listed but without group */
    int theano;            /* root attribute backend = "theano" */
} hw_opts;

/* Writes m's weights in the save_weights layout with libhdf5 directly. Big-endian float32
 * datasets: libhdf5 converts on reading. */
static void hand_write(const char *path, const ic_model *m, const hw_opts *o)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = o->in_model_weights ? H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT,
                                               H5P_DEFAULT)
                                  : f;
    int n = ic_model_num_layers(m);
    const char *names[64];
    for (int i = 0; i < n; i++)
        names[i] = ic_model_layer(m, i)->name;
    if (o->split) {
        w_strs(g, "layer_names0", names, n / 2, o->vlen);
        w_strs(g, "layer_names1", names + n / 2, n - n / 2, o->vlen);
    } else {
        w_strs(g, "layer_names", names, n, o->vlen);
    }
    if (o->theano) {
        hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
        H5Tset_size(t, 6);
        hid_t at = H5Acreate2(g, "backend", t, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(at, t, "theano");
        H5Aclose(at);
        H5Sclose(sp);
        H5Tclose(t);
    }
    for (int i = 0; i < n; i++) {
        ic_layer *l = ic_model_layer(m, i);
        if (o->no_group && !strcmp(o->no_group, l->name))
            continue;
        ic__param *ps[32];
        ic_layer *ls[32];
        int k = l->inner ? ic__model_collect(l->inner, 0, ps, ls, 32) : l->n_params;
        if (!l->inner)
            for (int j = 0; j < k; j++) {
                ps[j] = l->params[j];
                ls[j] = l;
            }
        char wn[32][300];
        const char *wp[32];
        for (int j = 0; j < k; j++) {
            snprintf(wn[j], sizeof wn[j], "%s/%s%s", ls[j]->name, ps[j]->name,
                     o->no_suffix ? "" : ":0");
            wp[j] = wn[j];
        }
        hid_t lg = H5Gcreate2(g, l->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        w_strs(lg, "weight_names", wp, k, o->vlen);
        for (int j = 0; j < k; j++) {
            int first = j == 0;
            if (first && o->drop_data && !strcmp(o->drop_data, l->name))
                continue;
            w_dataset(lg, wp[j], &ps[j]->value,
                      first && o->f64_layer && !strcmp(o->f64_layer, l->name));
        }
        H5Gclose(lg);
    }
    if (g != f)
        H5Gclose(g);
    H5Fclose(f);
}

/* ---- Reading the layout back ---- */

static int str_list_is(hid_t obj, const char *attr, const char *const *want, int n)
{
    char **v = NULL;
    int k = -1;
    ic_status s = ic__h5_read_str_array_attr(obj, attr, "t.h5", &v, &k);
    int ok = s == IC_OK && k == n;
    for (int i = 0; ok && i < n; i++)
        ok = !strcmp(v[i], want[i]);
    if (!ok) {
        fprintf(stderr, "attribute %s: status %d (%s), %d names:", attr, (int)s, ic_errmsg(), k);
        for (int i = 0; s == IC_OK && i < k; i++)
            fprintf(stderr, " '%s'", v[i]);
        fprintf(stderr, "\n");
    }
    ic__free(v);
    return ok;
}

/* Dataset is float32 little-endian, contiguous, of the given shape. */
static int dataset_is(hid_t f, const char *path, int ndim, const hsize_t *shape)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0) {
        fprintf(stderr, "no dataset %s\n", path);
        return 0;
    }
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d), pl = H5Dget_create_plist(d);
    hsize_t dims[8];
    int r = H5Sget_simple_extent_dims(sp, dims, NULL);
    int ok = H5Tequal(t, H5T_IEEE_F32LE) > 0 && r == ndim && H5Pget_layout(pl) == H5D_CONTIGUOUS;
    for (int i = 0; ok && i < ndim; i++)
        ok = dims[i] == shape[i];
    if (!ok)
        fprintf(stderr, "dataset %s: wrong type, layout or shape\n", path);
    H5Pclose(pl);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
    return ok;
}

static void test_layout_small(void)
{
    ic_model *m = build_default(11);
    const char *p = tpath("small.h5");
    OK(ic_model_save_weights(m, p));
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    const char *root[] = {"base", "flat", "fc1", "bn_head", "out"};
    CHECK(str_list_is(f, "layer_names", root, 5));
    /* fixed-length NULL-padded ASCII, width = longest name ("bn_head") */
    hid_t a = H5Aopen(f, "layer_names", H5P_DEFAULT), t = H5Aget_type(a);
    CHECK(H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0 && H5Tget_size(t) == 7 &&
          H5Tget_strpad(t) == H5T_STR_NULLPAD && H5Tget_cset(t) == H5T_CSET_ASCII);
    H5Tclose(t);
    H5Aclose(a);
    char *s = NULL;
    OK(ic__h5_read_str_attr(f, "backend", "t.h5", &s));
    CHECK(!strcmp(s, "tensorflow"));
    ic__free(s);
    OK(ic__h5_read_str_attr(f, "keras_version", "t.h5", &s));
    CHECK(!strcmp(s, "2.2.4"));
    ic__free(s);
    /* nested model: one group, trainable weights first (b_conv1 is frozen) */
    hid_t g = H5Gopen2(f, "base", H5P_DEFAULT);
    const char *base_w[] = {"b_bn1/gamma:0", "b_bn1/beta:0", "b_dw1/depthwise_kernel:0",
                            "b_dw1/bias:0", "b_conv1/kernel:0", "b_conv1/bias:0",
                            "b_bn1/moving_mean:0", "b_bn1/moving_variance:0"};
    CHECK(str_list_is(g, "weight_names", base_w, 8));
    H5Gclose(g);
    g = H5Gopen2(f, "flat", H5P_DEFAULT);
    a = H5Aopen(g, "weight_names", H5P_DEFAULT);
    t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    CHECK(H5Tequal(t, H5T_IEEE_F64LE) > 0 && H5Sget_simple_extent_npoints(sp) == 0);
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    CHECK(str_list_is(g, "weight_names", NULL, 0));
    H5Gclose(g);
    g = H5Gopen2(f, "fc1", H5P_DEFAULT);
    const char *fc1_w[] = {"fc1/kernel:0", "fc1/bias:0"};
    CHECK(str_list_is(g, "weight_names", fc1_w, 2));
    H5Gclose(g);
    hsize_t k4[4] = {3, 3, 3, 4}, dw[4] = {3, 3, 4, 1}, c4[1] = {4}, fk[2] = {64, 5}, fb[1] = {5};
    CHECK(dataset_is(f, "/base/b_conv1/kernel:0", 4, k4));
    CHECK(dataset_is(f, "/base/b_conv1/bias:0", 1, c4));
    CHECK(dataset_is(f, "/base/b_dw1/depthwise_kernel:0", 4, dw));
    CHECK(dataset_is(f, "/base/b_bn1/moving_variance:0", 1, c4));
    CHECK(dataset_is(f, "/fc1/fc1/kernel:0", 2, fk));
    CHECK(dataset_is(f, "/fc1/fc1/bias:0", 1, fb));
    CHECK(dataset_is(f, "/bn_head/bn_head/gamma:0", 1, fb));
    /* values as stored */
    float kv[64 * 5];
    hid_t d = H5Dopen2(f, "/fc1/fc1/kernel:0", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, kv) >= 0);
    H5Dclose(d);
    CHECK(!memcmp(kv, ic_tensor_data(lw(m, "fc1", 0)), sizeof kv));
    H5Fclose(f);
    ic_model_free(m);
}

static void test_round_trip(void)
{
    ic_model *a = build_default(1);
    const char *p = tpath("rt.h5");
    OK(ic_model_save_weights(a, p));
    OK(ic_model_save_weights(a, p)); /* replaces an existing file */
    ic_model *b = build_default(2);
    snap sa = take(a), sb = take(b);
    CHECK(sa.n == sb.n && memcmp(sa.v, sb.v, (size_t)sa.n * sizeof(float)));
    ic__param *ps[64];
    int n = ic__model_collect(b, 0, ps, NULL, 64);
    uint64_t before[64];
    for (int i = 0; i < n; i++)
        before[i] = ps[i]->version;
    OK(ic_model_load_weights(b, p, NULL));
    CHECK(same(b, sa));
    int bumped = 1;
    for (int i = 0; i < n; i++)
        bumped &= ps[i]->version != before[i] && ps[i]->version != 0;
    CHECK(bumped);
    for (int i = 0; i < ic_model_num_weights(a); i++)
        CHECKF(tensors_equal(ic_model_weight(a, i, NULL), ic_model_weight(b, i, NULL)),
               "weight %d", i);
    /* by name gives the same here */
    ic_model *c = build_default(3);
    ic_load_weights_opts o = ic_load_weights_opts_default();
    o.by_name = 1;
    OK(ic_model_load_weights(c, p, &o));
    CHECK(same(c, sa));
    free(sa.v);
    free(sb.v);
    ic_model_free(a);
    ic_model_free(b);
    ic_model_free(c);
}

/* Encodings other Keras versions write: all must load to the same weights. */
static void test_encodings(void)
{
    ic_model *a = build_default(21);
    snap sa = take(a);
    hw_opts variants[] = {
        {0}, {.vlen = 1}, {.split = 1}, {.vlen = 1, .split = 1}, {.no_suffix = 1, .vlen = 1},
        {.in_model_weights = 1}};
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        const char *p = tpath("enc.h5");
        hand_write(p, a, &variants[v]);
        ic_model *b = build_default(22);
        ic_status s = ic_model_load_weights(b, p, NULL);
        CHECKF(s == IC_OK && same(b, sa), "variant %zu: %s", v, ic_errmsg());
        ic_load_weights_opts o = {1, 0};
        ic_model_free(b);
        b = build_default(23);
        s = ic_model_load_weights(b, p, &o);
        CHECKF(s == IC_OK && same(b, sa), "variant %zu by name: %s", v, ic_errmsg());
        ic_model_free(b);
    }
    /* split attributes as written by us: force a long list */
    {
        const char *names[3000];
        char buf[3000][32];
        for (int i = 0; i < 3000; i++) {
            snprintf(buf[i], sizeof buf[i], "layer_number_%d", i);
            names[i] = buf[i];
        }
        hid_t f = H5Fcreate(tpath("split.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        OK(ic__h5_write_str_array_attr(f, "layer_names", names, 3000, "split.h5"));
        /* width 17 * 3000 = 51000 bytes: fits; 6000 names would not */
        CHECK(H5Aexists(f, "layer_names") > 0);
        const char *more[6000];
        for (int i = 0; i < 6000; i++)
            more[i] = names[i % 3000];
        hid_t g = H5Gcreate2(f, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        OK(ic__h5_write_str_array_attr(g, "layer_names", more, 6000, "split.h5"));
        CHECK(H5Aexists(g, "layer_names") == 0 && H5Aexists(g, "layer_names0") > 0 &&
              H5Aexists(g, "layer_names1") > 0 && H5Aexists(g, "layer_names2") == 0);
        char **v;
        int n;
        OK(ic__h5_read_str_array_attr(g, "layer_names", "split.h5", &v, &n));
        CHECK(n == 6000 && !strcmp(v[0], "layer_number_0") &&
              !strcmp(v[5999], "layer_number_2999"));
        ic__free(v);
        H5Gclose(g);
        H5Fclose(f);
    }
    /* backend "theano": Conv2D kernels flipped spatially (Keras's convert_kernel), nothing
     * else changed */
    {
        hw_opts th = {.theano = 1};
        const char *p = tpath("theano.h5");
        hand_write(p, a, &th);
        ic_model *b = build_default(24);
        OK(ic_model_load_weights(b, p, NULL));
        ic_model *ia = ic_model_get_layer(a, "base")->inner;
        ic_model *ib = ic_model_get_layer(b, "base")->inner;
        const float *ka = ic_model_get_layer(ia, "b_conv1")->params[0]->value.data;
        const float *kb = ic_model_get_layer(ib, "b_conv1")->params[0]->value.data;
        int flipped = 1;
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++)
                for (int io = 0; io < 12; io++)
                    flipped &= kb[(y * 3 + x) * 12 + io] == ka[((2 - y) * 3 + 2 - x) * 12 + io];
        CHECK(flipped);
        CHECK(tensors_equal(&ic_model_get_layer(ia, "b_dw1")->params[0]->value,
                            &ic_model_get_layer(ib, "b_dw1")->params[0]->value));
        CHECK(tensors_equal(lw(a, "fc1", 0), lw(b, "fc1", 0)));
        ic_model_free(b);
    }
    free(sa.v);
    ic_model_free(a);
}

static const char *g_last_warning;
static char g_warn_buf[1024];
static int g_warnings;
static void log_cb(int level, const char *msg, void *user)
{
    if (level == 2) {
        snprintf(g_warn_buf, sizeof g_warn_buf, "%s", msg);
        g_last_warning = g_warn_buf;
        g_warnings++;
    }
}

static void test_by_name(void)
{
    ic_model *a = build_default(31);
    const char *p = tpath("byname.h5");
    OK(ic_model_save_weights(a, p));
    ic_load_weights_opts o = {1, 0};

    /* different base name (unmatched), an extra layer (not in the file) */
    spec sp = spec_default();
    sp.base = "base_other";
    sp.extra = 1;
    ic_model *d = build(&sp, 32);
    float *base0 = dup_t(ic_model_weight(d, 0, NULL)), *extra0 = dup_t(lw(d, "extra", 0));
    OK(ic_model_load_weights(d, p, &o));
    CHECK(tensors_equal(lw(d, "fc1", 0), lw(a, "fc1", 0)));
    CHECK(tensors_equal(lw(d, "fc1", 1), lw(a, "fc1", 1)));
    CHECK(tensors_equal(lw(d, "bn_head", 3), lw(a, "bn_head", 3)));
    CHECK(tensors_equal(lw(d, "out", 0), lw(a, "out", 0)));
    /* the unmatched nested base and "extra" kept their values */
    CHECK(same_t(ic_model_weight(d, 0, NULL), base0));
    CHECK(same_t(lw(d, "extra", 0), extra0));
    free(base0);
    free(extra0);
    /* by order the same model fails: 6 layers with weights vs 5 */
    EXPECT_ERR(ic_model_load_weights(d, p, NULL), IC_ERR_SHAPE,
               "file has 4 layers with weights, model 'outer' has 5");
    ic_model_free(d);

    /* shape mismatch in "out": error (nothing loaded) or skipped with a warning */
    sp = spec_default();
    sp.out_units = 2;
    ic_model *e = build(&sp, 33);
    snap se = take(e);
    float *out0 = dup_t(lw(e, "out", 0));
    EXPECT_ERR(ic_model_load_weights(e, p, &o), IC_ERR_SHAPE,
               "layer 'out': weight 0 has shape (5, 1) in the file, (5, 2) in the model");
    CHECK(strstr(ic_errmsg(), p) != NULL);
    CHECK(same(e, se));
    o.skip_mismatch = 1;
    ic_set_log(log_cb, NULL);
    g_warnings = 0;
    OK(ic_model_load_weights(e, p, &o));
    ic_set_log(NULL, NULL);
    CHECK(g_warnings == 1 && g_last_warning && strstr(g_last_warning, "skipping layer 'out'"));
    CHECK(tensors_equal(lw(e, "fc1", 0), lw(a, "fc1", 0)));
    CHECK(tensors_equal(ic_model_weight(e, 0, NULL), ic_model_weight(a, 0, NULL)));
    CHECK(same_t(lw(e, "out", 0), out0));
    free(out0);
    CHECK(same(e, se) == 0);
    free(se.v);
    ic_model_free(e);

    /* count mismatch by name: fc1 without bias */
    sp = spec_default();
    sp.fc1_bias = 0;
    ic_model *h = build(&sp, 34);
    o.skip_mismatch = 0;
    EXPECT_ERR(ic_model_load_weights(h, p, &o), IC_ERR_SHAPE,
               "layer 'fc1' has 2 weights in the file, 1 in the model");
    o.skip_mismatch = 1;
    OK(ic_model_load_weights(h, p, &o));
    CHECK(tensors_equal(lw(h, "out", 0), lw(a, "out", 0)));
    ic_model_free(h);
    ic_model_free(a);
}

static void test_errors(void)
{
    ic_model *a = build_default(41);
    const char *p = tpath("err.h5");
    OK(ic_model_save_weights(a, p));

    spec sp = spec_default();
    sp.bn_head = 0;
    ic_model *m = build(&sp, 42);
    snap s0 = take(m);
    EXPECT_ERR(ic_model_load_weights(m, p, NULL), IC_ERR_SHAPE,
               "file has 4 layers with weights, model 'outer' has 3");
    CHECK(same(m, s0));
    free(s0.v);
    ic_model_free(m);

    sp = spec_default();
    sp.fc1_bias = 0;
    m = build(&sp, 43);
    s0 = take(m);
    EXPECT_ERR(ic_model_load_weights(m, p, NULL), IC_ERR_SHAPE,
               "layer 'fc1' has 2 weights in the file, 1 in the model");
    CHECK(same(m, s0));
    free(s0.v);
    ic_model_free(m);

    /* shape: nested base with 4 input channels; weight 4 of 'base' is b_conv1/kernel */
    sp = spec_default();
    sp.in_c = 4;
    m = build(&sp, 44);
    s0 = take(m);
    EXPECT_ERR(ic_model_load_weights(m, p, NULL), IC_ERR_SHAPE,
               "layer 'base': weight 4 has shape (3, 3, 3, 4) in the file, (3, 3, 4, 4) in the "
               "model (dataset 'b_conv1/kernel:0')");
    CHECK(same(m, s0));
    free(s0.v);
    ic_model_free(m);
    sp = spec_default();
    sp.fc1_units = 6;
    m = build(&sp, 45);
    EXPECT_ERR(ic_model_load_weights(m, p, NULL), IC_ERR_SHAPE,
               "layer 'fc1': weight 0 has shape (64, 5) in the file, (64, 6) in the model");
    ic_model_free(m);
    /* by order, names differ: both named */
    sp = spec_default();
    sp.base = "zzz";
    sp.in_c = 4;
    m = build(&sp, 46);
    EXPECT_ERR(ic_model_load_weights(m, p, NULL), IC_ERR_SHAPE,
               "layer 'zzz' (file layer 'base'): weight 4 has shape");
    ic_model_free(m);

    /* hand-made damage */
    m = build_default(47);
    s0 = take(m);
    hw_opts o = {0};
    o.f64_layer = "fc1";
    hand_write(p, a, &o);
    EXPECT_ERR(ic_model_load_weights(m, p, NULL), IC_ERR_FORMAT,
               "layer 'fc1': dataset 'fc1/kernel:0' is float64, expected float32");
    CHECK(same(m, s0));
    memset(&o, 0, sizeof o);
    o.drop_data = "out";
    hand_write(p, a, &o);
    EXPECT_ERR(ic_model_load_weights(m, p, NULL), IC_ERR_FORMAT,
               "layer 'out': dataset 'out/kernel:0' not found");
    CHECK(same(m, s0));
    memset(&o, 0, sizeof o);
    o.no_group = "fc1";
    hand_write(p, a, &o);
    EXPECT_ERR(ic_model_load_weights(m, p, NULL), IC_ERR_FORMAT,
               "layer 'fc1' is listed in layer_names but has no group");
    CHECK(same(m, s0));
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    EXPECT_ERR(ic_model_load_weights(m, p, NULL), IC_ERR_FORMAT, "no 'layer_names' attribute");
    /* layer_names of the wrong type */
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dim = 2;
    hid_t sp2 = H5Screate_simple(1, &dim, NULL);
    hid_t at = H5Acreate2(f, "layer_names", H5T_STD_I32LE, sp2, H5P_DEFAULT, H5P_DEFAULT);
    int iv[2] = {1, 2};
    H5Awrite(at, H5T_NATIVE_INT, iv);
    H5Aclose(at);
    H5Sclose(sp2);
    H5Fclose(f);
    EXPECT_ERR(ic_model_load_weights(m, p, NULL), IC_ERR_FORMAT,
               "attribute 'layer_names' of '/' is not a string list (integer)");
    CHECK(same(m, s0));

    /* damaged files: truncated to 50% and to 100 bytes, garbage, empty, missing */
    const char *good = tpath("good.h5");
    OK(ic_model_save_weights(a, good));
    FILE *fp = fopen(good, "rb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)size);
    CHECK(fread(bytes, 1, (size_t)size, fp) == (size_t)size);
    fclose(fp);
    struct {
        const char *name;
        long n;
    } cuts[] = {{"trunc50.h5", size / 2}, {"trunc100.h5", 100}, {"empty.h5", 0}};
    for (int i = 0; i < 3; i++) {
        const char *tp = tpath(cuts[i].name);
        fp = fopen(tp, "wb");
        fwrite(bytes, 1, (size_t)cuts[i].n, fp);
        fclose(fp);
        ic_clear_error();
        ic_status s = ic_model_load_weights(m, tp, NULL);
        CHECKF((s == IC_ERR_FORMAT || s == IC_ERR_IO) && strstr(ic_errmsg(), tp), "%s: %s: %s",
               cuts[i].name, ic_status_str(s), ic_errmsg());
        CHECK(same(m, s0));
    }
    const char *gp = tpath("garbage.h5");
    unsigned char junk[4096];
    for (int i = 0; i < 4096; i++)
        junk[i] = (unsigned char)(i * 2654435761u >> 13);
    fp = fopen(gp, "wb");
    fwrite(junk, 1, sizeof junk, fp);
    fclose(fp);
    EXPECT_ERR(ic_model_load_weights(m, gp, NULL), IC_ERR_FORMAT, "not an HDF5 file");
    EXPECT_ERR(ic_model_load_weights(m, tpath("missing.h5"), NULL), IC_ERR_NOT_FOUND,
               "missing.h5");
    CHECK(same(m, s0));

    /* corruption anywhere in the file: an error or (data bytes) success, never a crash */
    const char *cp = tpath("corrupt.h5");
    int errors = 0, loads = 0;
    ic_model *mm = build_default(48);
    snap sm = take(mm);
    unsigned char *c = malloc((size_t)size);
    for (long pos = 0; pos + 8 <= size; pos += 79) {
        memcpy(c, bytes, (size_t)size);
        for (int k = 0; k < 8; k++)
            c[pos + k] ^= 0xA5;
        fp = fopen(cp, "wb");
        fwrite(c, 1, (size_t)size, fp);
        fclose(fp);
        ic_status s = ic_model_load_weights(mm, cp, NULL);
        if (s == IC_OK) {
            loads++;
            free(sm.v);
            sm = take(mm);
        } else {
            errors++;
            CHECKF(s == IC_ERR_FORMAT || s == IC_ERR_IO || s == IC_ERR_SHAPE,
                   "corrupt at %ld: %s: %s", pos, ic_status_str(s), ic_errmsg());
            CHECKF(same(mm, sm), "corrupt at %ld: model changed", pos);
        }
    }
    free(c);
    free(sm.v);
    ic_model_free(mm);
    printf("corruption: %d positions loaded (data bytes), %d refused\n", loads, errors);
    free(bytes);

    /* saving into a missing directory: error, nothing left behind */
    EXPECT_ERR(ic_model_save_weights(a, tpath("nodir/x.h5")), IC_ERR_IO, "nodir/x.h5");
    free(s0.v);
    ic_model_free(m);
    ic_model_free(a);
}

/* ---- VGG16: legacy download layout, the book's model layout ---- */

static void test_vgg16(void)
{
    ic_app_opts ao = ic_app_opts_default();
    ao.include_top = 0;
    ao.input_shape[0] = 150;
    ao.input_shape[1] = 150;
    ao.input_shape[2] = 3;
    ic_model *v;
    OK(ic_app_vgg16(&v, &ao));

    /* vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 (Keras 1): datasets named
     * <layer>_W_1:0 / <layer>_b_1:0 directly in the layer group, no keras_version. */
    const char *lp = tpath("vgg16_legacy.h5");
    hid_t f = H5Fcreate(lp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const char *names[18];
    char nb[18][32];
    int nn = 0, convs[5] = {2, 2, 3, 3, 3};
    for (int b = 0; b < 5; b++) {
        for (int c = 0; c < convs[b]; c++)
            snprintf(nb[nn++], 32, "block%d_conv%d", b + 1, c + 1);
        snprintf(nb[nn++], 32, "block%d_pool", b + 1);
    }
    for (int i = 0; i < nn; i++)
        names[i] = nb[i];
    w_strs(f, "layer_names", names, nn, 0);
    unsigned seed = 500;
    for (int i = 0; i < nn; i++) {
        hid_t g = H5Gcreate2(f, names[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ic_layer *l = ic_model_get_layer(v, names[i]);
        if (l->n_params == 0) {
            w_strs(g, "weight_names", NULL, 0, 0);
        } else {
            char w0[64], w1[64];
            snprintf(w0, sizeof w0, "%s_W_1:0", names[i]);
            snprintf(w1, sizeof w1, "%s_b_1:0", names[i]);
            const char *wn[2] = {w0, w1};
            w_strs(g, "weight_names", wn, 2, 0);
            for (int k = 0; k < 2; k++) {
                ic_tensor *t = &l->params[k]->value;
                ic_tensor tmp = *t;
                tmp.data = malloc((size_t)ic_tensor_numel(t) * sizeof(float));
                t_fill_uniform(tmp.data, (long)ic_tensor_numel(t), seed++, -1, 1);
                w_dataset(g, wn[k], &tmp, 0);
                free(tmp.data);
            }
        }
        H5Gclose(g);
    }
    H5Fclose(f);
    OK(ic_model_load_weights(v, lp, NULL));
    seed = 500;
    int all = 1;
    for (int i = 0; i < ic_model_num_weights(v); i++) {
        const ic_tensor *t = ic_model_weight(v, i, NULL);
        float *want = malloc((size_t)ic_tensor_numel(t) * sizeof(float));
        t_fill_uniform(want, (long)ic_tensor_numel(t), seed++, -1, 1);
        all &= !memcmp(want, ic_tensor_cdata(t), (size_t)ic_tensor_numel(t) * sizeof(float));
        free(want);
    }
    CHECK(ic_model_num_weights(v) == 26 && all);

    /* The book's model: vgg16 nested + flatten, dense 256, dense 1. */
    ic_model *bookm;
    ic_layer *l;
    OK(ic_model_create(&bookm, "sequential_1", 1));
    OK(ic_layer_from_model(&l, v));
    OK(ic_model_add(bookm, l));
    OK(ic_layer_flatten(&l, "flatten_1"));
    OK(ic_model_add(bookm, l));
    OK(ic_layer_dense(&l, 256, IC_ACT_RELU, 1, "dense_1"));
    OK(ic_model_add(bookm, l));
    OK(ic_layer_dense(&l, 1, IC_ACT_SIGMOID, 1, "dense_2"));
    OK(ic_model_add(bookm, l));
    const char *sp = tpath("book.h5");
    OK(ic_model_save_weights(bookm, sp));
    f = H5Fopen(sp, H5F_ACC_RDONLY, H5P_DEFAULT);
    const char *root[] = {"vgg16", "flatten_1", "dense_1", "dense_2"};
    CHECK(str_list_is(f, "layer_names", root, 4));
    hid_t g = H5Gopen2(f, "vgg16", H5P_DEFAULT);
    char **wn;
    int n;
    OK(ic__h5_read_str_array_attr(g, "weight_names", "book.h5", &wn, &n));
    CHECK(n == 26 && !strcmp(wn[0], "block1_conv1/kernel:0") &&
          !strcmp(wn[1], "block1_conv1/bias:0") && !strcmp(wn[25], "block5_conv3/bias:0"));
    ic__free(wn);
    H5Gclose(g);
    hsize_t k1[4] = {3, 3, 3, 64}, b5[1] = {512}, d1[2] = {8192, 256};
    CHECK(dataset_is(f, "/vgg16/block1_conv1/kernel:0", 4, k1));
    CHECK(dataset_is(f, "/vgg16/block5_conv3/bias:0", 1, b5));
    CHECK(dataset_is(f, "/dense_1/dense_1/kernel:0", 2, d1));
    H5Fclose(f);
    /* the file of the bare base does not load into the book's model by order */
    EXPECT_ERR(ic_model_load_weights(bookm, lp, NULL), IC_ERR_SHAPE,
               "file has 13 layers with weights, model 'sequential_1' has 3");
    ic_model_free(bookm);
}

/* ---- Shared MobileNetV2 files ---- */

static void test_shared(void)
{
    const char *dir = t_shared_dir(); /* exits 77 when absent: run last */
    struct {
        const char *file;
        int n;
        const char *second;
    } files[] = {{"mobilenet_v2_0.35_224_no_top.h5", 155, "Conv1_pad"},
                 {"mobilenet_v2_0.35_224_no_top.legacy_names.h5", 150, "Conv1"}};
    for (int k = 0; k < 2; k++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/weights/%s", dir, files[k].file);
        hid_t f;
        if (ic__h5_open_read(p, &f) != IC_OK) {
            fprintf(stderr, "%s: %s\n", p, ic_errmsg());
            t_failures++;
            continue;
        }
        char **ln;
        int n;
        OK(ic__h5_read_str_array_attr(f, "layer_names", p, &ln, &n));
        CHECKF(n == files[k].n, "%s: %d layers", files[k].file, n);
        CHECK(n > 2 && !strcmp(ln[0], "input_1") && !strcmp(ln[1], files[k].second));
        int with = 0, tensors = 0;
        for (int i = 0; i < n; i++) {
            hid_t g = H5Gopen2(f, ln[i], H5P_DEFAULT);
            char **wn;
            int nw;
            OK(ic__h5_read_str_array_attr(g, "weight_names", p, &wn, &nw));
            with += nw > 0;
            tensors += nw;
            if (!strcmp(ln[i], "Conv1"))
                CHECK(nw == 1 && !strcmp(wn[0], "Conv1/kernel:0"));
            for (int j = 0; j < nw; j++) {
                hid_t d = H5Dopen2(g, wn[j], H5P_DEFAULT);
                CHECKF(d >= 0, "%s: %s/%s", files[k].file, ln[i], wn[j]);
                if (d >= 0)
                    H5Dclose(d);
            }
            ic__free(wn);
            H5Gclose(g);
        }
        CHECKF(with == 104 && tensors == 260, "%s: %d layers with weights, %d tensors",
               files[k].file, with, tensors);
        char *s;
        OK(ic__h5_read_str_attr(f, "keras_version", p, &s));
        CHECK(!strcmp(s, "2.2.4"));
        ic__free(s);
        ic__free(ln);
        H5Fclose(f);
    }
}

/* ---- Fault injection ---- */

static long g_count, g_fail_at;
static void *f_malloc(size_t n, void *u)
{
    return ++g_count == g_fail_at ? NULL : malloc(n);
}
static void *f_realloc(void *p, size_t n, void *u)
{
    return ++g_count == g_fail_at ? NULL : realloc(p, n);
}
static void f_free(void *p, void *u) { free(p); }

static int leftover_tmp(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void test_faults(void)
{
    ic_model *a = build_default(61);
    char good[512], vl[512], outp[512];
    snprintf(good, sizeof good, "%s", tpath("faults_src.h5"));
    snprintf(vl, sizeof vl, "%s", tpath("faults_vlen.h5"));
    snprintf(outp, sizeof outp, "%s", tpath("faults_out.h5"));
    OK(ic_model_save_weights(a, good));
    hw_opts vo = {.vlen = 1, .split = 1};
    hand_write(vl, a, &vo);
    ic_model *b = build_default(62);
    snap sa = take(a), sb = take(b);
    ic_alloc_hooks hk = {f_malloc, f_realloc, f_free, NULL};
    int bad = 0;
    long total = 0;
    /* Each call on its own: fail its 1st, 2nd, ... allocation until it completes. */
    for (int call = 0; call < 4; call++) {
        int done = 0;
        long n;
        for (n = 1; n < 100000 && !done; n++) {
            ic_load_weights_opts o = {1, 1};
            snap before = take(b);
            g_count = 0;
            g_fail_at = n;
            ic_set_alloc_hooks(&hk);
            ic_status s = call == 0   ? ic_model_save_weights(a, outp)
                          : call == 1 ? ic_model_load_weights(b, good, NULL)
                          : call == 2 ? ic_model_load_weights(b, vl, &o)
                                      : ic_model_load_weights(b, outp, NULL);
            ic_set_alloc_hooks(NULL);
            if (s != IC_OK && s != IC_ERR_NOMEM) {
                bad++;
                fprintf(stderr, "call %d, fail_at %ld: %s: %s\n", call, n, ic_status_str(s),
                        ic_errmsg());
            }
            if (s != IC_OK && !same(b, before)) {
                bad++;
                fprintf(stderr, "call %d, fail_at %ld: failed load changed the model\n", call, n);
            }
            if (leftover_tmp()) {
                bad++;
                fprintf(stderr, "call %d, fail_at %ld: temporary file left behind\n", call, n);
            }
            free(before.v);
            if (g_count < n) { /* completed without reaching the failure */
                CHECKF(s == IC_OK, "call %d: clean run failed: %s", call, ic_errmsg());
                done = 1;
            } else if (call == 0) {
                CHECK(access(outp, F_OK) != 0); /* a failed save leaves no file */
            }
            if (call > 0) { /* make the next load change the model again */
                for (int i = 0; i < ic_model_num_weights(b); i++) {
                    ic_tensor *t = ic_model_weight_mut(b, i, NULL);
                    ic_tensor_data(t)[0] += 1.0f;
                }
            }
        }
        CHECKF(done, "call %d never completed", call);
        total += n - 2;
    }
    /* the last clean load into b happened before the +1 tweak: load once more */
    OK(ic_model_load_weights(b, outp, NULL));
    CHECK(same(b, sa));
    CHECK(bad == 0);
    printf("faults: %ld allocation failure points survived\n", total);
    free(sa.v);
    free(sb.v);
    ic_model_free(a);
    ic_model_free(b);
}

static void cleanup(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(tpath(e->d_name));
    if (d)
        closedir(d);
    rmdir(g_dir);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define RUN(fn)                                                                            \
    do {                                                                                   \
        double t0_ = now_s();                                                              \
        fn();                                                                              \
        printf("%s: %.2f s\n", #fn, now_s() - t0_);                                        \
    } while (0)

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/ic_kw_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    ic__h5_quiet();
    RUN(test_layout_small);
    RUN(test_round_trip);
    RUN(test_encodings);
    RUN(test_by_name);
    RUN(test_errors);
    RUN(test_faults);
    RUN(test_vgg16);
    CHECK(leftover_tmp() == 0);
    cleanup();
    if (t_failures)
        return t_finish();
    test_shared();
    return t_finish();
}
