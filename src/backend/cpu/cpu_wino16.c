/* cpu_wino16.c - bf16 Winograd F(2x2, 3x3) on oneDNN's batched bf16 matmul
 * (cpu_wino16.h says what and why).
 *
 * Layouts. A pass sees one "geometry": an input (n, h, w, c) (NHWC, host f32) read in
 * 4x4 tiles at stride 2 from (-pt, -pl), making an output (n, oh, ow, k) in 2x2 tiles,
 * th x tw tiles per sample. Tile t of a chunk (sample-major, then tile row, tile
 * column) is row t of every transformed matrix:
 *   V  [16][rows][c]  bf16  input tiles, B^T d B
 *   U  [16][c][k]     bf16  weights, G g G^T (cached; backward data: flipped, transposed)
 *   M  [16][rows][k]  f32   V x U, output tiles before A^T . A
 * Backward weights also makes D [16][rows][k] bf16 = A dY A^T and dU [16][c][k] f32 =
 * V^T x D, summed over the chunks by the matmul's sum post-op.
 *
 * The transforms are AVX-512 loops over 16 channels at a time, compiled for AVX512_BF16
 * (function attributes, so the rest of the library stays portable) and called only where
 * the CPU has it; OpenMP splits them over tiles (or channels) statically, so results do
 * not depend on timing. */
#include "cpu_wino16.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#define W16_BUILT 1
#include <immintrin.h>
#define W16_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")))
#else
#define W16_BUILT 0
#endif

enum { NIJ = 16 }; /* transformed tile elements: 4x4 */

/* Rows (tiles) per matmul. The forward takes a fixed number of samples per chunk (for
 * batch invariance): enough for F_ROWS tiles, so 1 sample at 37x37 (361 tiles), 4 at
 * 18x18, 11 at 9x9. Measured at 37x37x256: 42 ms with 361 rows, 39 with 7,220; larger
 * fixed chunks would pad small batches more than they save. The backward passes take
 * balanced chunks of up to B_ROWS tiles (memory: at 37x37x256, batch 20, 118 MB). */
#define F_ROWS 256
#define B_ROWS 8192

typedef struct w16_geom {
    int64_t h, w, c;   /* input per sample */
    int64_t oh, ow, k; /* output per sample */
    int64_t th, tw;    /* 2x2 output tiles per sample */
    int pt, pl;        /* padding before the input */
    int64_t chunk;     /* samples per matmul */
    int64_t rows;      /* chunk * th * tw */
} w16_geom;

struct ic__cpu_w16 {
    ic__op hdr; /* handle on the shared buffer: matmul scratchpads and temporaries */
    ic__conv_desc d;
    int on[3];
    w16_geom g[3];      /* per pass (backward weights tiles like the forward) */
    ic__cpu_prim mm[3]; /* the pass's batched matmul */
    ic__cpu_prim tr;    /* backward data's weights: [16][ic][oc] -> [16][oc][ic] */
    dnnl_memory_t m_a[3], m_b[3], m_c[3], m_tr_in, m_tr_out;
    uint16_t *u[2]; /* transformed weights: forward, backward data */
    const float *u_ptr[2];
    uint64_t u_ver[2];
    size_t off[3][3]; /* per pass, offsets of its temporaries after the scratchpad */
};

static const char *pass_name[3] = {"Winograd bf16 forward", "Winograd bf16 backward data",
                                   "Winograd bf16 backward weights"};

int ic__cpu_w16_available(void)
{
    return W16_BUILT && ic__cpu_isa_has(dnnl_cpu_isa_avx512_core_bf16);
}

int ic__cpu_w16_fits(const ic__conv_desc *d)
{
    return d->kh == 3 && d->kw == 3 && d->sh == 1 && d->sw == 1 && d->groups == 1 &&
           d->ic % 16 == 0 && d->oc % 16 == 0 && d->ic > 0 && d->oc > 0 && d->pt >= 0 &&
           d->pl >= 0 && d->pt <= 2 && d->pl <= 2 && d->pb >= 0 && d->pr >= 0 && d->n >= 1 &&
           d->oh >= 1 && d->ow >= 1;
}

int ic__cpu_w16_on(const ic__cpu_w16 *w, int pass)
{
    return w && pass >= 0 && pass < 3 && w->on[pass];
}

int64_t ic__cpu_w16_chunk(const ic__cpu_w16 *w, int pass)
{
    return ic__cpu_w16_on(w, pass) ? w->g[pass].chunk : 0;
}

#if W16_BUILT

/* ---- transforms (AVX-512, 16 channels per vector) ---- */

W16_TARGET static inline void st16(uint16_t *p, __m512 v)
{
    _mm256_storeu_si256((__m256i *)p, (__m256i)_mm512_cvtneps_pbh(v));
}

/* V = B^T d B for the tiles of samples [n0, n0 + chunk) of x (n samples; the rest, and
 * everything outside the input, read as zero). */
W16_TARGET static void in_tf(const w16_geom *g, const float *x, int64_t n, int64_t n0,
                             uint16_t *V)
{
    const int64_t tpi = g->th * g->tw, rows = g->rows, C = g->c;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < rows; t++) {
        const int64_t s = n0 + t / tpi, r = t % tpi, y0 = 2 * (r / g->tw) - g->pt,
                      x0 = 2 * (r % g->tw) - g->pl;
        const float *p[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                int64_t y = y0 + i, xx = x0 + j;
                p[i][j] = s < n && y >= 0 && y < g->h && xx >= 0 && xx < g->w
                              ? x + ((s * g->h + y) * g->w + xx) * C
                              : NULL;
            }
        for (int64_t c0 = 0; c0 < C; c0 += 16) {
            __m512 d[4][4], u[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    d[i][j] = p[i][j] ? _mm512_loadu_ps(p[i][j] + c0) : _mm512_setzero_ps();
            for (int j = 0; j < 4; j++) { /* B^T d: rows d0-d2, d1+d2, d2-d1, d1-d3 */
                u[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
                u[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
                u[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
                u[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
            }
            for (int i = 0; i < 4; i++) { /* (.) B: the same over columns */
                uint16_t *o = V + ((int64_t)(i * 4) * rows + t) * C + c0;
                st16(o, _mm512_sub_ps(u[i][0], u[i][2]));
                st16(o + rows * C, _mm512_add_ps(u[i][1], u[i][2]));
                st16(o + 2 * rows * C, _mm512_sub_ps(u[i][2], u[i][1]));
                st16(o + 3 * rows * C, _mm512_sub_ps(u[i][1], u[i][3]));
            }
        }
    }
}

/* y = act(A^T M A + bias) for the tiles of samples [n0, n0 + chunk) below n; output
 * positions past oh, ow (a partial last tile) are not written. */
W16_TARGET static void out_tf(const w16_geom *g, const float *M, int64_t n, int64_t n0,
                              float *y, const float *bias, int relu)
{
    const int64_t tpi = g->th * g->tw, rows = g->rows, K = g->k;
    int64_t last = (n - n0) * tpi; /* tiles of real samples */
    if (last > rows)
        last = rows;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < last; t++) {
        const int64_t s = n0 + t / tpi, r = t % tpi, oy = 2 * (r / g->tw), ox = 2 * (r % g->tw);
        const int ny = oy + 1 < g->oh ? 2 : 1, nx = ox + 1 < g->ow ? 2 : 1;
        float *out = y + ((s * g->oh + oy) * g->ow + ox) * K;
        for (int64_t k0 = 0; k0 < K; k0 += 16) {
            __m512 m[4][4], a[2][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    m[i][j] = _mm512_loadu_ps(M + ((int64_t)(i * 4 + j) * rows + t) * K + k0);
            for (int j = 0; j < 4; j++) { /* A^T m: rows m0+m1+m2, m1-m2-m3 */
                a[0][j] = _mm512_add_ps(_mm512_add_ps(m[0][j], m[1][j]), m[2][j]);
                a[1][j] = _mm512_sub_ps(_mm512_sub_ps(m[1][j], m[2][j]), m[3][j]);
            }
            const __m512 b = bias ? _mm512_loadu_ps(bias + k0) : _mm512_setzero_ps();
            for (int i = 0; i < ny; i++) {
                __m512 v[2];
                v[0] = _mm512_add_ps(_mm512_add_ps(a[i][0], a[i][1]), a[i][2]);
                v[1] = _mm512_sub_ps(_mm512_sub_ps(a[i][1], a[i][2]), a[i][3]);
                for (int j = 0; j < nx; j++) {
                    __m512 o = _mm512_add_ps(v[j], b);
                    if (relu) /* max(0, NaN) is NaN: a NaN reaches the loss */
                        o = _mm512_max_ps(_mm512_setzero_ps(), o);
                    _mm512_storeu_ps(out + ((int64_t)i * g->ow + j) * K + k0, o);
                }
            }
        }
    }
}

/* D = A dY A^T for the 2x2 output tiles of dy (zero outside the output and past n). */
W16_TARGET static void dy_tf(const w16_geom *g, const float *dy, int64_t n, int64_t n0,
                             uint16_t *D)
{
    const int64_t tpi = g->th * g->tw, rows = g->rows, K = g->k;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < rows; t++) {
        const int64_t s = n0 + t / tpi, r = t % tpi, oy = 2 * (r / g->tw), ox = 2 * (r % g->tw);
        const float *p[2][2];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                p[i][j] = s < n && oy + i < g->oh && ox + j < g->ow
                              ? dy + ((s * g->oh + oy + i) * g->ow + ox + j) * K
                              : NULL;
        for (int64_t k0 = 0; k0 < K; k0 += 16) {
            __m512 e[2][2], q[4][2];
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    e[i][j] = p[i][j] ? _mm512_loadu_ps(p[i][j] + k0) : _mm512_setzero_ps();
            for (int j = 0; j < 2; j++) { /* A e: rows e0, e0+e1, e0-e1, -e1 */
                q[0][j] = e[0][j];
                q[1][j] = _mm512_add_ps(e[0][j], e[1][j]);
                q[2][j] = _mm512_sub_ps(e[0][j], e[1][j]);
                q[3][j] = _mm512_sub_ps(_mm512_setzero_ps(), e[1][j]);
            }
            for (int i = 0; i < 4; i++) { /* (.) A^T: the same over columns */
                uint16_t *o = D + ((int64_t)(i * 4) * rows + t) * K + k0;
                st16(o, q[i][0]);
                st16(o + rows * K, _mm512_add_ps(q[i][0], q[i][1]));
                st16(o + 2 * rows * K, _mm512_sub_ps(q[i][0], q[i][1]));
                st16(o + 3 * rows * K, _mm512_sub_ps(_mm512_setzero_ps(), q[i][1]));
            }
        }
    }
}

/* U = G g G^T from host weights (kh, kw, C, K); flip reads the kernel rotated by 180
 * degrees (backward data). U is [16][C][K]. */
W16_TARGET static void wt_tf(const float *wt, int64_t C, int64_t K, int flip, uint16_t *U)
{
    const __m512 half = _mm512_set1_ps(0.5f);
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < C; c++) {
        for (int64_t k0 = 0; k0 < K; k0 += 16) {
            __m512 g[3][3], t[4][3];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                    int tap = flip ? (2 - i) * 3 + (2 - j) : i * 3 + j;
                    g[i][j] = _mm512_loadu_ps(wt + ((int64_t)tap * C + c) * K + k0);
                }
            for (int j = 0; j < 3; j++) { /* G g: rows g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2 */
                __m512 s = _mm512_add_ps(g[0][j], g[2][j]);
                t[0][j] = g[0][j];
                t[1][j] = _mm512_mul_ps(half, _mm512_add_ps(s, g[1][j]));
                t[2][j] = _mm512_mul_ps(half, _mm512_sub_ps(s, g[1][j]));
                t[3][j] = g[2][j];
            }
            for (int i = 0; i < 4; i++) { /* (.) G^T: the same over columns */
                uint16_t *o = U + ((int64_t)(i * 4) * C + c) * K + k0;
                __m512 s = _mm512_add_ps(t[i][0], t[i][2]);
                st16(o, t[i][0]);
                st16(o + C * K, _mm512_mul_ps(half, _mm512_add_ps(s, t[i][1])));
                st16(o + 2 * C * K, _mm512_mul_ps(half, _mm512_sub_ps(s, t[i][1])));
                st16(o + 3 * C * K, t[i][2]);
            }
        }
    }
}

/* dw (kh, kw, C, K) = G^T dU G from dU [16][C][K]. */
W16_TARGET static void dw_tf(const float *dU, int64_t C, int64_t K, float *dw)
{
    const __m512 half = _mm512_set1_ps(0.5f);
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < C; c++) {
        for (int64_t k0 = 0; k0 < K; k0 += 16) {
            __m512 u[4][4], r[3][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    u[i][j] = _mm512_loadu_ps(dU + ((int64_t)(i * 4 + j) * C + c) * K + k0);
            for (int j = 0; j < 4; j++) { /* G^T u: u0+(u1+u2)/2, (u1-u2)/2, (u1+u2)/2+u3 */
                __m512 s = _mm512_mul_ps(half, _mm512_add_ps(u[1][j], u[2][j]));
                r[0][j] = _mm512_add_ps(u[0][j], s);
                r[1][j] = _mm512_mul_ps(half, _mm512_sub_ps(u[1][j], u[2][j]));
                r[2][j] = _mm512_add_ps(s, u[3][j]);
            }
            for (int a = 0; a < 3; a++) { /* (.) G: the same over columns */
                float *o = dw + ((int64_t)(a * 3) * C + c) * K + k0;
                __m512 s = _mm512_mul_ps(half, _mm512_add_ps(r[a][1], r[a][2]));
                _mm512_storeu_ps(o, _mm512_add_ps(r[a][0], s));
                _mm512_storeu_ps(o + C * K, _mm512_mul_ps(half, _mm512_sub_ps(r[a][1], r[a][2])));
                _mm512_storeu_ps(o + 2 * C * K, _mm512_add_ps(s, r[a][3]));
            }
        }
    }
}

/* db[k] = sum of dy over its npos positions, in position order (independent of the
 * thread count). */
W16_TARGET static void db_sum(const float *dy, int64_t npos, int64_t K, float *db)
{
#pragma omp parallel for schedule(static)
    for (int64_t k0 = 0; k0 < K; k0 += 16) {
        __m512 s = _mm512_setzero_ps();
        for (int64_t p = 0; p < npos; p++)
            s = _mm512_add_ps(s, _mm512_loadu_ps(dy + p * K + k0));
        _mm512_storeu_ps(db + k0, s);
    }
}

#else /* !W16_BUILT: never called (ic__cpu_w16_available() is 0) */

static void in_tf(const w16_geom *g, const float *x, int64_t n, int64_t n0, uint16_t *V)
{
    (void)g, (void)x, (void)n, (void)n0, (void)V;
}
static void out_tf(const w16_geom *g, const float *M, int64_t n, int64_t n0, float *y,
                   const float *bias, int relu)
{
    (void)g, (void)M, (void)n, (void)n0, (void)y, (void)bias, (void)relu;
}
static void dy_tf(const w16_geom *g, const float *dy, int64_t n, int64_t n0, uint16_t *D)
{
    (void)g, (void)dy, (void)n, (void)n0, (void)D;
}
static void wt_tf(const float *wt, int64_t C, int64_t K, int flip, uint16_t *U)
{
    (void)wt, (void)C, (void)K, (void)flip, (void)U;
}
static void dw_tf(const float *dU, int64_t C, int64_t K, float *dw)
{
    (void)dU, (void)C, (void)K, (void)dw;
}
static void db_sum(const float *dy, int64_t npos, int64_t K, float *db)
{
    (void)dy, (void)npos, (void)K, (void)db;
}

#endif

/* ---- creation ---- */

static void geom(w16_geom *g, int64_t h, int64_t w, int64_t c, int pt, int pl, int64_t oh,
                 int64_t ow, int64_t k)
{
    g->h = h, g->w = w, g->c = c, g->pt = pt, g->pl = pl, g->oh = oh, g->ow = ow, g->k = k;
    g->th = (oh + 1) / 2;
    g->tw = (ow + 1) / 2;
}

/* Fixed samples per chunk (forward: independent of the batch). */
static void chunk_fixed(w16_geom *g)
{
    int64_t tpi = g->th * g->tw;
    g->chunk = (F_ROWS + tpi - 1) / tpi;
    g->rows = g->chunk * tpi;
}

/* Balanced chunks of at most B_ROWS rows (at least one sample) over n samples. */
static void chunk_balanced(w16_geom *g, int64_t n)
{
    int64_t tpi = g->th * g->tw, most = B_ROWS / tpi;
    if (most < 1)
        most = 1;
    int64_t nch = (n + most - 1) / most;
    g->chunk = (n + nch - 1) / nch;
    g->rows = g->chunk * tpi;
}

static ic_status md3(const ic__op *op, dnnl_memory_desc_t *md, int64_t b, int64_t r, int64_t c,
                     dnnl_data_type_t dt, int transposed)
{
    dnnl_dims_t dims = {b, r, c};
    /* transposed: an [r][c] view of [c][r] storage */
    dnnl_dims_t st = {r * c, transposed ? 1 : c, transposed ? r : 1};
    dnnl_status_t s = dnnl_memory_desc_init_by_strides(md, 3, dims, dt, st);
    return s == dnnl_success ? IC_OK : ic__cpu_fail(op, "memory descriptor", s);
}

/* The pass's batched matmul a [16][m][k] x b [16][k][n] -> c [16][m][n] (f32), and its
 * memory objects; sum adds to c. */
static ic_status mm_create(ic__cpu_w16 *w, int pass, int64_t m, int64_t k, int64_t n,
                           int a_transposed, int sum)
{
    ic__op *op = &w->hdr;
    dnnl_memory_desc_t a, b, c;
    IC__TRY(md3(op, &a, NIJ, m, k, dnnl_bf16, a_transposed));
    IC__TRY(md3(op, &b, NIJ, k, n, dnnl_bf16, 0));
    IC__TRY(md3(op, &c, NIJ, m, n, dnnl_f32, 0));
    dnnl_matmul_desc_t md;
    IC__DNNL(op, dnnl_matmul_desc_init(&md, &a, &b, NULL, &c), "matmul (descriptor)");
    dnnl_post_ops_t po = NULL;
    if (sum)
        IC__DNNL(op, dnnl_post_ops_create(&po), "matmul (post-ops)");
    if (po && dnnl_post_ops_append_sum(po, 1.0f) != dnnl_success) {
        dnnl_post_ops_destroy(po);
        return ic_seterr(IC_ERR_BACKEND, "cpu backend: matmul sum post-op refused for %s",
                         op->what);
    }
    ic_status s = ic__cpu_prim_create(op, &w->mm[pass], &md, po, NULL, pass_name[pass]);
    if (po)
        dnnl_post_ops_destroy(po);
    IC__TRY(s);
    IC__TRY(ic__cpu_mem_create(op, &w->m_a[pass], &a));
    IC__TRY(ic__cpu_mem_create(op, &w->m_b[pass], &b));
    return ic__cpu_mem_create(op, &w->m_c[pass], &c);
}

/* Lays out a pass's temporaries (sizes in bytes, 0 = unused) and returns their total. */
static size_t layout(size_t off[3], size_t a, size_t b, size_t c)
{
    off[0] = 0;
    off[1] = ic__cpu_round64(a);
    off[2] = off[1] + ic__cpu_round64(b);
    return off[2] + ic__cpu_round64(c);
}

static ic_status w16_build(ic__cpu_w16 *w)
{
    ic__op *op = &w->hdr;
    const ic__conv_desc *d = &w->d;
    const int64_t C = d->ic, K = d->oc;
    size_t need = 0, bf = sizeof(uint16_t), fl = sizeof(float);
    if (w->on[IC__CPU_FWD]) {
        w16_geom *g = &w->g[IC__CPU_FWD];
        geom(g, d->ih, d->iw, C, d->pt, d->pl, d->oh, d->ow, K);
        chunk_fixed(g);
        IC__TRY(mm_create(w, IC__CPU_FWD, g->rows, C, K, 0, 0));
        size_t t = layout(w->off[IC__CPU_FWD], NIJ * g->rows * C * bf, NIJ * g->rows * K * fl, 0);
        need = t > need ? t : need;
    }
    if (w->on[IC__CPU_BWD_DATA]) {
        w16_geom *g = &w->g[IC__CPU_BWD_DATA];
        geom(g, d->oh, d->ow, K, 2 - d->pt, 2 - d->pl, d->ih, d->iw, C);
        chunk_balanced(g, d->n);
        IC__TRY(mm_create(w, IC__CPU_BWD_DATA, g->rows, K, C, 0, 0));
        /* flipped weights [16][C][K] -> [16][K][C] */
        dnnl_memory_desc_t in, out;
        IC__TRY(md3(op, &in, NIJ, K, C, dnnl_bf16, 1));
        IC__TRY(md3(op, &out, NIJ, K, C, dnnl_bf16, 0));
        IC__TRY(ic__cpu_reorder_create(op, &w->tr, &in, &out));
        IC__TRY(ic__cpu_mem_create(op, &w->m_tr_in, &in));
        IC__TRY(ic__cpu_mem_create(op, &w->m_tr_out, &out));
        size_t t = layout(w->off[IC__CPU_BWD_DATA], NIJ * g->rows * K * bf, NIJ * g->rows * C * fl,
                          NIJ * C * K * bf);
        need = t > need ? t : need;
    }
    if (w->on[IC__CPU_BWD_WEIGHTS]) {
        w16_geom *g = &w->g[IC__CPU_BWD_WEIGHTS];
        geom(g, d->ih, d->iw, C, d->pt, d->pl, d->oh, d->ow, K);
        chunk_balanced(g, d->n);
        IC__TRY(mm_create(w, IC__CPU_BWD_WEIGHTS, C, g->rows, K, 1, 1));
        size_t t = layout(w->off[IC__CPU_BWD_WEIGHTS], NIJ * g->rows * C * bf,
                          NIJ * g->rows * K * bf, NIJ * C * K * fl);
        need = t > need ? t : need;
    }
    for (int p = 0; p < 2; p++)
        if (w->on[p]) {
            w->u[p] = ic__malloc_aligned(NIJ * (size_t)C * (size_t)K * bf);
            if (!w->u[p])
                return ic_seterr(IC_ERR_NOMEM, "cpu backend: out of memory for %s", op->what);
        }
    return ic__cpu_tmp_reserve(op, need);
}

ic_status ic__cpu_w16_create(ic__cpu_w16 **out, const ic__conv_desc *d, const int on[3],
                             const char *what)
{
    *out = NULL;
    if (!ic__cpu_w16_available() || !ic__cpu_w16_fits(d))
        return ic_seterr(IC_ERR_UNSUPPORTED, "cpu backend: no bf16 Winograd for %s", what);
    ic__cpu_w16 *w = ic__calloc(1, sizeof *w);
    if (!w)
        return ic_seterr(IC_ERR_NOMEM, "cpu backend: out of memory for %s", what);
    w->hdr.kind = IC__CPU_CONV;
    w->hdr.shared = 1;
    snprintf(w->hdr.what, sizeof w->hdr.what, "%s", what);
    w->d = *d;
    for (int p = 0; p < 3; p++)
        w->on[p] = on[p] != 0;
    ic_status s = w16_build(w);
    if (s != IC_OK) {
        ic__cpu_w16_free(w);
        return s;
    }
    *out = w;
    return IC_OK;
}

void ic__cpu_w16_free(ic__cpu_w16 *w)
{
    if (!w)
        return;
    for (int p = 0; p < 3; p++) {
        ic__cpu_prim_destroy(&w->mm[p]);
        ic__cpu_mem_destroy(&w->m_a[p]);
        ic__cpu_mem_destroy(&w->m_b[p]);
        ic__cpu_mem_destroy(&w->m_c[p]);
    }
    ic__cpu_prim_destroy(&w->tr);
    ic__cpu_mem_destroy(&w->m_tr_in);
    ic__cpu_mem_destroy(&w->m_tr_out);
    for (int p = 0; p < 2; p++)
        ic__free_aligned(w->u[p]);
    ic__cpu_shared_drop(&w->hdr);
    ic__free(w);
}

/* ---- the passes ---- */

static ic_status mm_run(ic__cpu_w16 *w, int pass, void *a, void *b, void *c)
{
    ic__op *op = &w->hdr;
    IC__TRY(ic__cpu_mem_set(op, w->m_a[pass], a));
    IC__TRY(ic__cpu_mem_set(op, w->m_b[pass], b));
    IC__TRY(ic__cpu_mem_set(op, w->m_c[pass], c));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, w->m_a[pass]},
                               {DNNL_ARG_WEIGHTS, w->m_b[pass]},
                               {DNNL_ARG_DST, w->m_c[pass]}};
    return ic__cpu_exec(op, &w->mm[pass], 3, args, pass_name[pass]);
}

static int cached(const ic__cpu_w16 *w, int which, const float *wt, uint64_t version)
{
    return version != 0 && w->u_ptr[which] == wt && w->u_ver[which] == version;
}

ic_status ic__cpu_w16_fwd(ic__cpu_w16 *w, float *dst, const float *src, const float *weights,
                          uint64_t weights_version, const float *bias)
{
    if (!ic__cpu_w16_on(w, IC__CPU_FWD))
        return ic_seterr(IC_ERR_INTERNAL, "cpu backend: no bf16 Winograd forward");
    const w16_geom *g = &w->g[IC__CPU_FWD];
    if (!cached(w, 0, weights, weights_version)) {
        w->u_ver[0] = 0; /* invalid until rebuilt */
        wt_tf(weights, w->d.ic, w->d.oc, 0, w->u[0]);
        w->u_ptr[0] = weights;
        w->u_ver[0] = weights_version;
    }
    char *tmp = ic__cpu_shared_enter(&w->hdr);
    uint16_t *V = (uint16_t *)(tmp + w->off[IC__CPU_FWD][0]);
    float *M = (float *)(tmp + w->off[IC__CPU_FWD][1]);
    ic_status s = IC_OK;
    for (int64_t n0 = 0; n0 < w->d.n && s == IC_OK; n0 += g->chunk) {
        in_tf(g, src, w->d.n, n0, V);
        s = mm_run(w, IC__CPU_FWD, V, w->u[0], M);
        if (s == IC_OK)
            out_tf(g, M, w->d.n, n0, dst, w->d.has_bias ? bias : NULL, w->d.act == IC__ACT_RELU);
    }
    ic__cpu_shared_leave(&w->hdr);
    return s;
}

ic_status ic__cpu_w16_bwd_data(ic__cpu_w16 *w, float *diff_src, const float *diff_dst,
                               const float *weights, uint64_t weights_version)
{
    if (!ic__cpu_w16_on(w, IC__CPU_BWD_DATA))
        return ic_seterr(IC_ERR_INTERNAL, "cpu backend: no bf16 Winograd backward data");
    const w16_geom *g = &w->g[IC__CPU_BWD_DATA];
    ic__op *op = &w->hdr;
    char *tmp = ic__cpu_shared_enter(op);
    uint16_t *V = (uint16_t *)(tmp + w->off[IC__CPU_BWD_DATA][0]);
    float *M = (float *)(tmp + w->off[IC__CPU_BWD_DATA][1]);
    uint16_t *uf = (uint16_t *)(tmp + w->off[IC__CPU_BWD_DATA][2]);
    ic_status s = IC_OK;
    if (!cached(w, 1, weights, weights_version)) {
        w->u_ver[1] = 0;
        wt_tf(weights, w->d.ic, w->d.oc, 1, uf);
        s = ic__cpu_mem_set(op, w->m_tr_in, uf);
        if (s == IC_OK)
            s = ic__cpu_mem_set(op, w->m_tr_out, w->u[1]);
        if (s == IC_OK) {
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, w->m_tr_in}, {DNNL_ARG_TO, w->m_tr_out}};
            s = ic__cpu_exec(op, &w->tr, 2, args, "Winograd bf16 weights transpose");
        }
        if (s == IC_OK) {
            w->u_ptr[1] = weights;
            w->u_ver[1] = weights_version;
        }
    }
    for (int64_t n0 = 0; n0 < w->d.n && s == IC_OK; n0 += g->chunk) {
        in_tf(g, diff_dst, w->d.n, n0, V);
        s = mm_run(w, IC__CPU_BWD_DATA, V, w->u[1], M);
        if (s == IC_OK)
            out_tf(g, M, w->d.n, n0, diff_src, NULL, 0);
    }
    ic__cpu_shared_leave(op);
    return s;
}

ic_status ic__cpu_w16_bwd_weights(ic__cpu_w16 *w, float *diff_weights, float *diff_bias,
                                  const float *src, const float *diff_dst)
{
    if (!ic__cpu_w16_on(w, IC__CPU_BWD_WEIGHTS))
        return ic_seterr(IC_ERR_INTERNAL, "cpu backend: no bf16 Winograd backward weights");
    const w16_geom *g = &w->g[IC__CPU_BWD_WEIGHTS];
    const int64_t C = w->d.ic, K = w->d.oc;
    char *tmp = ic__cpu_shared_enter(&w->hdr);
    uint16_t *V = (uint16_t *)(tmp + w->off[IC__CPU_BWD_WEIGHTS][0]);
    uint16_t *D = (uint16_t *)(tmp + w->off[IC__CPU_BWD_WEIGHTS][1]);
    float *dU = (float *)(tmp + w->off[IC__CPU_BWD_WEIGHTS][2]);
    memset(dU, 0, NIJ * (size_t)C * (size_t)K * sizeof(float)); /* the chunks add to it */
    ic_status s = IC_OK;
    for (int64_t n0 = 0; n0 < w->d.n && s == IC_OK; n0 += g->chunk) {
        in_tf(g, src, w->d.n, n0, V);
        dy_tf(g, diff_dst, w->d.n, n0, D);
        s = mm_run(w, IC__CPU_BWD_WEIGHTS, V, D, dU);
    }
    if (s == IC_OK) {
        dw_tf(dU, C, K, diff_weights);
        if (w->d.has_bias && diff_bias)
            db_sum(diff_dst, w->d.n * w->d.oh * w->d.ow, K, diff_bias);
    }
    ic__cpu_shared_leave(&w->hdr);
    return s;
}
