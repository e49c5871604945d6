/* history_io.c - History files: CSV and JSON writers (atomic) and a reader for both.
 *
 * CSV is what Keras's CSVLogger writes, with epoch counted from 1 and a fixed column
 * order: "epoch,loss,acc,val_loss,val_acc" (only the recorded metrics). JSON is the
 * Keras History.history dict plus an "epoch" array. Values are printed with %.17g so
 * they read back bit-exactly; NaN is "nan" in CSV and null in JSON, infinities are
 * "inf"/"-inf" in CSV and 1e999/-1e999 in JSON (valid JSON that parses to infinity).
 *
 * The reader tells the formats apart by the first non-blank character ('{' = JSON) and
 * is lenient about what other tools write (column order, extra columns, quoted
 * headers, CRLF, NA / NaN / Infinity / empty fields), strict about structure: every
 * error names the file and the line.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "imgclass/train.h"

enum { M_EPOCH = -2, M_NONE = -1, M_LOSS = 0, M_ACC, M_VAL_LOSS, M_VAL_ACC, M_N };
static const char *const g_names[M_N] = {"loss", "acc", "val_loss", "val_acc"};

#define MAX_FILE_BYTES (256L << 20)

/* ---- Writing ---- */

static void put_csv_value(FILE *fp, double v)
{
    if (isnan(v))
        fputs("nan", fp);
    else if (isinf(v))
        fputs(v > 0 ? "inf" : "-inf", fp);
    else
        fprintf(fp, "%.17g", v);
}

static void put_json_value(FILE *fp, double v)
{
    if (isnan(v))
        fputs("null", fp);
    else if (isinf(v))
        fputs(v > 0 ? "1e999" : "-1e999", fp);
    else
        fprintf(fp, "%.17g", v);
}

static ic_status check_save_args(const ic_history *h, const char *path, const char *fn)
{
    if (!h || !path || !*path)
        return ic_seterr(IC_ERR_INVALID, "%s: history and path must be given", fn);
    return IC_OK;
}

static ic_status finish_write(ic__atomic_file *f, const char *path)
{
    if (fflush(f->fp) != 0 || ferror(f->fp)) {
        int e = errno;
        ic__atomic_abort(f);
        return ic_seterr(IC_ERR_IO, "cannot write '%s': %s", path, strerror(e));
    }
    ic_status s = ic__atomic_commit(f);
    if (s)
        ic__atomic_abort(f);
    return s;
}

ic_status ic_history_save_csv(const ic_history *h, const char *path)
{
    ic_status s = check_save_args(h, path, "ic_history_save_csv");
    if (s)
        return s;
    const double *v[M_N];
    for (int k = 0; k < M_N; k++)
        v[k] = ic_history_metric(h, g_names[k]);
    ic__atomic_file f;
    if ((s = ic__atomic_begin(&f, path, 1)))
        return s;
    fputs("epoch", f.fp);
    for (int k = 0; k < M_N; k++)
        if (v[k])
            fprintf(f.fp, ",%s", g_names[k]);
    fputc('\n', f.fp);
    int n = ic_history_epochs(h);
    for (int e = 0; e < n; e++) {
        fprintf(f.fp, "%d", e + 1);
        for (int k = 0; k < M_N; k++)
            if (v[k]) {
                fputc(',', f.fp);
                put_csv_value(f.fp, v[k][e]);
            }
        fputc('\n', f.fp);
    }
    return finish_write(&f, path);
}

ic_status ic_history_save_json(const ic_history *h, const char *path)
{
    ic_status s = check_save_args(h, path, "ic_history_save_json");
    if (s)
        return s;
    ic__atomic_file f;
    if ((s = ic__atomic_begin(&f, path, 1)))
        return s;
    int n = ic_history_epochs(h);
    fputs("{\n  \"epoch\": [", f.fp);
    for (int e = 0; e < n; e++)
        fprintf(f.fp, "%s%d", e ? ", " : "", e + 1);
    fputc(']', f.fp);
    for (int k = 0; k < M_N; k++) {
        const double *v = ic_history_metric(h, g_names[k]);
        if (!v)
            continue;
        fprintf(f.fp, ",\n  \"%s\": [", g_names[k]);
        for (int e = 0; e < n; e++) {
            if (e)
                fputs(", ", f.fp);
            put_json_value(f.fp, v[e]);
        }
        fputc(']', f.fp);
    }
    fputs("\n}\n", f.fp);
    return finish_write(&f, path);
}

/* ---- Reading: shared pieces ---- */

/* Metric column for a Keras name (both spellings of accuracy), M_EPOCH, or M_NONE. */
static int metric_index(const char *name)
{
    if (!strcmp(name, "epoch"))
        return M_EPOCH;
    for (int k = 0; k < M_N; k++)
        if (!strcmp(name, g_names[k]))
            return k;
    if (!strcmp(name, "accuracy"))
        return M_ACC;
    if (!strcmp(name, "val_accuracy"))
        return M_VAL_ACC;
    return M_NONE;
}

/* Parses a whole token as a number; NaN spellings of R, pandas and Python accepted.
 * Returns 0 on success. */
static int parse_number(const char *s, size_t len, double *out)
{
    char buf[64];
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    if (!len || !strcmp(buf, "NA") || !strcmp(buf, "nan") || !strcmp(buf, "NaN") ||
        !strcmp(buf, "-nan") || !strcmp(buf, "NAN")) {
        *out = NAN;
        return 0;
    }
    const char *p = buf;
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!strcmp(p, "inf") || !strcmp(p, "Inf") || !strcmp(p, "Infinity") ||
        !strcmp(p, "infinity") || !strcmp(p, "INF")) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    /* Plain decimal numbers only (no hex, no "nan(...)"). */
    for (const char *c = p; *c; c++)
        if (!strchr("0123456789.eE+-", *c))
            return -1;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end)
        return -1;
    *out = v; /* overflow gives +-HUGE_VAL = inf, underflow a denormal or 0: both fine */
    return 0;
}

static ic_status read_file(const char *path, char **out, size_t *len)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ic_seterr(errno == ENOENT ? IC_ERR_NOT_FOUND : IC_ERR_IO, "cannot open '%s': %s",
                         path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = ic__malloc(cap + 1);
    if (!buf) {
        fclose(fp);
        return IC_ERR_NOMEM;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= (size_t)MAX_FILE_BYTES) {
                ic__free(buf);
                fclose(fp);
                return ic_seterr(IC_ERR_FORMAT, "%s: file too large for a history (> %ld bytes)",
                                 path, MAX_FILE_BYTES);
            }
            char *nb = ic__realloc(buf, 2 * cap + 1);
            if (!nb) {
                ic__free(buf);
                fclose(fp);
                return IC_ERR_NOMEM;
            }
            buf = nb, cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, fp);
        n += r;
        if (r == 0)
            break;
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) {
        ic__free(buf);
        return ic_seterr(IC_ERR_IO, "cannot read '%s'", path);
    }
    buf[n] = 0;
    if (strlen(buf) != n) {
        ic__free(buf);
        return ic_seterr(IC_ERR_FORMAT, "%s: binary data (a NUL byte); not a CSV or JSON history",
                         path);
    }
    *out = buf;
    *len = n;
    return IC_OK;
}

/* Columns as read, before the history is built. */
typedef struct cols {
    double *v[M_N];
    int have[M_N];
    int n, cap;
} cols;

static void cols_free(cols *c)
{
    for (int k = 0; k < M_N; k++)
        ic__free(c->v[k]);
}

static ic_status cols_push(double **v, int *n, int *cap, double x)
{
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        double *nv = ic__realloc(*v, (size_t)nc * sizeof(double));
        if (!nv)
            return IC_ERR_NOMEM;
        *v = nv, *cap = nc;
    }
    (*v)[(*n)++] = x;
    return IC_OK;
}

/* Builds the history; missing companions (val_acc when acc and val_loss exist) are NaN. */
static ic_status cols_to_history(const cols *c, const char *path, ic_history **out)
{
    if (!c->have[M_LOSS])
        return ic_seterr(IC_ERR_FORMAT,
                         "%s: no 'loss' values (expected keys loss, acc, "
                         "val_loss, val_acc)",
                         path);
    int has_acc = c->have[M_ACC] || c->have[M_VAL_ACC];
    int has_val = c->have[M_VAL_LOSS] || c->have[M_VAL_ACC];
    ic_history *h;
    ic_status s = ic_history_create(&h, has_acc, has_val);
    if (s)
        return s;
    for (int e = 0; e < c->n; e++) {
        double x[M_N];
        for (int k = 0; k < M_N; k++)
            x[k] = c->have[k] ? c->v[k][e] : NAN;
        if ((s = ic_history_append(h, x[0], x[1], x[2], x[3]))) {
            ic_history_free(h);
            return s;
        }
    }
    *out = h;
    return IC_OK;
}

/* ---- CSV ---- */

/* Splits line [p, end) at commas into fields (at most max); returns the count. */
static int split_fields(const char *p, const char *end, const char **fs, size_t *fl, int max)
{
    int n = 0;
    for (;;) {
        const char *q = p;
        while (q < end && *q != ',')
            q++;
        if (n < max) {
            fs[n] = p;
            fl[n] = (size_t)(q - p);
        }
        n++;
        if (q == end)
            return n;
        p = q + 1;
    }
}

enum { MAX_COLS = 64 };

static ic_status load_csv(const char *path, const char *text, cols *c)
{
    const char *p = text;
    int line = 0, header_done = 0, ncols = 0;
    int colmap[MAX_COLS];
    const char *fs[MAX_COLS];
    size_t fl[MAX_COLS];
    char header[256];
    int counts[M_N] = {0}, caps[M_N] = {0};
    while (*p) {
        line++;
        const char *end = strchr(p, '\n');
        const char *next = end ? end + 1 : p + strlen(p);
        if (!end)
            end = next;
        if (end > p && end[-1] == '\r')
            end--;
        const char *t = p;
        while (t < end && (*t == ' ' || *t == '\t'))
            t++;
        if (t == end) { /* blank line */
            p = next;
            continue;
        }
        int nf = split_fields(p, end, fs, fl, MAX_COLS);
        if (!header_done) {
            snprintf(header, sizeof header, "%.*s", (int)(end - p), p);
            if (nf > MAX_COLS)
                return ic_seterr(IC_ERR_FORMAT, "%s:%d: header has %d columns (at most %d)", path,
                                 line, nf, MAX_COLS);
            int seen[M_N + 1] = {0};
            for (int i = 0; i < nf; i++) {
                char name[32];
                const char *s = fs[i];
                size_t l = fl[i];
                while (l && (*s == ' ' || *s == '\t'))
                    s++, l--;
                while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
                    l--;
                if (l >= 2 && s[0] == '"' && s[l - 1] == '"')
                    s++, l -= 2;
                snprintf(name, sizeof name, "%.*s", (int)(l < 31 ? l : 31), s);
                int m = l < 31 ? metric_index(name) : M_NONE;
                if (m != M_NONE) {
                    int slot = m == M_EPOCH ? M_N : m;
                    if (seen[slot]++)
                        return ic_seterr(IC_ERR_FORMAT, "%s:%d: column '%s' appears twice", path,
                                         line, name);
                    if (m >= 0)
                        c->have[m] = 1;
                }
                colmap[i] = m;
            }
            if (!c->have[M_LOSS])
                return ic_seterr(IC_ERR_FORMAT,
                                 "%s:%d: bad header '%s': no 'loss' column (expected "
                                 "epoch,loss,acc,val_loss,val_acc)",
                                 path, line, header);
            ncols = nf;
            header_done = 1;
            p = next;
            continue;
        }
        if (nf != ncols)
            return ic_seterr(IC_ERR_FORMAT,
                             "%s:%d: expected %d fields (as the header '%s'), got %d", path, line,
                             ncols, header, nf);
        for (int i = 0; i < nf; i++) {
            if (colmap[i] == M_NONE)
                continue;
            double v;
            const char *name = colmap[i] == M_EPOCH ? "epoch" : g_names[colmap[i]];
            if (parse_number(fs[i], fl[i], &v))
                return ic_seterr(IC_ERR_FORMAT, "%s:%d: column '%s': '%.*s' is not a number", path,
                                 line, name, (int)(fl[i] < 40 ? fl[i] : 40), fs[i]);
            if (colmap[i] == M_EPOCH) {
                if (!isfinite(v) || v != floor(v))
                    return ic_seterr(IC_ERR_FORMAT,
                                     "%s:%d: column 'epoch': '%.*s' is not a whole number", path,
                                     line, (int)(fl[i] < 40 ? fl[i] : 40), fs[i]);
                continue;
            }
            int k = colmap[i];
            ic_status s = cols_push(&c->v[k], &counts[k], &caps[k], v);
            if (s)
                return s;
        }
        if (c->n == 1 << 24)
            return ic_seterr(IC_ERR_FORMAT, "%s:%d: too many epochs", path, line);
        c->n++;
        p = next;
    }
    if (!header_done)
        return ic_seterr(IC_ERR_FORMAT, "%s:1: empty file (expected a CSV header or a JSON object)",
                         path);
    return IC_OK;
}

/* ---- JSON ---- */

typedef struct jp {
    const char *p, *file;
    int line;
} jp;

static void j_ws(jp *j)
{
    for (;;) {
        char ch = *j->p;
        if (ch == '\n')
            j->line++;
        else if (ch != ' ' && ch != '\t' && ch != '\r')
            return;
        j->p++;
    }
}

static ic_status j_err(jp *j, const char *what)
{
    if (!*j->p)
        return ic_seterr(IC_ERR_FORMAT,
                         "%s:%d: unexpected end of file, expected %s (truncated "
                         "JSON?)",
                         j->file, j->line, what);
    char near[24];
    int k = 0;
    while (k < 20 && j->p[k] && j->p[k] != '\n')
        near[k] = j->p[k], k++;
    near[k] = 0;
    return ic_seterr(IC_ERR_FORMAT, "%s:%d: malformed JSON: expected %s at '%s'", j->file, j->line,
                     what, near);
}

/* Reads a string; its content (escapes of ASCII decoded, others kept) goes to buf when
 * it fits, else buf gets "" and *fits = 0. */
static ic_status j_string(jp *j, char *buf, size_t size, int *fits)
{
    if (*j->p != '"')
        return j_err(j, "a string");
    j->p++;
    size_t n = 0;
    *fits = 1;
    for (;;) {
        char ch = *j->p;
        if (!ch || ch == '\n')
            return j_err(j, "the end of the string");
        j->p++;
        if (ch == '"')
            break;
        if (ch == '\\') {
            char e = *j->p;
            if (!e)
                return j_err(j, "an escape");
            j->p++;
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *f = strchr(from, e);
            if (f && e)
                ch = to[f - from];
            else if (e == 'u') {
                unsigned u = 0;
                for (int i = 0; i < 4; i++) {
                    char hch = *j->p;
                    int d = hch >= '0' && hch <= '9'   ? hch - '0'
                            : hch >= 'a' && hch <= 'f' ? hch - 'a' + 10
                            : hch >= 'A' && hch <= 'F' ? hch - 'A' + 10
                                                       : -1;
                    if (d < 0)
                        return j_err(j, "four hex digits after \\u");
                    u = u * 16 + (unsigned)d;
                    j->p++;
                }
                ch = u < 128 ? (char)u : '?';
            } else
                return j_err(j, "a valid escape");
        }
        if (n + 1 < size)
            buf[n++] = ch;
        else
            *fits = 0;
    }
    buf[*fits ? n : 0] = 0;
    return IC_OK;
}

static int j_word(jp *j, const char *w)
{
    size_t l = strlen(w);
    if (strncmp(j->p, w, l))
        return 0;
    char after = j->p[l];
    if ((after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z') ||
        (after >= '0' && after <= '9'))
        return 0;
    j->p += l;
    return 1;
}

/* Skips any JSON value (depth-limited). */
static ic_status j_skip(jp *j, int depth)
{
    if (depth > 64)
        return ic_seterr(IC_ERR_FORMAT, "%s:%d: JSON nested too deeply", j->file, j->line);
    j_ws(j);
    char ch = *j->p;
    char tmp[2];
    int fits;
    if (ch == '"')
        return j_string(j, tmp, sizeof tmp, &fits);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        j->p++;
        j_ws(j);
        if (*j->p == close) {
            j->p++;
            return IC_OK;
        }
        for (;;) {
            ic_status s;
            if (ch == '{') {
                j_ws(j);
                if ((s = j_string(j, tmp, sizeof tmp, &fits)))
                    return s;
                j_ws(j);
                if (*j->p != ':')
                    return j_err(j, "':'");
                j->p++;
            }
            if ((s = j_skip(j, depth + 1)))
                return s;
            j_ws(j);
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p == close) {
                j->p++;
                return IC_OK;
            }
            return j_err(j, close == '}' ? "',' or '}'" : "',' or ']'");
        }
    }
    if (j_word(j, "true") || j_word(j, "false") || j_word(j, "null") || j_word(j, "NaN") ||
        j_word(j, "Infinity") || j_word(j, "-Infinity"))
        return IC_OK;
    const char *s0 = j->p;
    while (*j->p && strchr("0123456789.eE+-", *j->p))
        j->p++;
    double v;
    if (j->p == s0 || parse_number(s0, (size_t)(j->p - s0), &v)) {
        j->p = s0;
        return j_err(j, "a JSON value");
    }
    return IC_OK;
}

/* One array element as a number: number, null, NaN, (-)Infinity, or a string naming NaN/Inf. */
static ic_status j_number(jp *j, const char *key, int index, double *out)
{
    const char *s0 = j->p;
    if (j_word(j, "null") || j_word(j, "NaN")) {
        *out = NAN;
        return IC_OK;
    }
    if (j_word(j, "Infinity")) {
        *out = INFINITY;
        return IC_OK;
    }
    if (j_word(j, "-Infinity")) {
        *out = -INFINITY;
        return IC_OK;
    }
    if (*j->p == '"') {
        char buf[32];
        int fits;
        ic_status s = j_string(j, buf, sizeof buf, &fits);
        if (s)
            return s;
        if (fits && strcmp(buf, "") && !parse_number(buf, strlen(buf), out))
            return IC_OK;
        j->p = s0;
    } else {
        while (*j->p && strchr("0123456789.eE+-", *j->p))
            j->p++;
        if (j->p > s0 && !parse_number(s0, (size_t)(j->p - s0), out))
            return IC_OK;
        j->p = s0;
    }
    if (!*j->p)
        return j_err(j, "a number");
    int k = 0;
    while (k < 20 && s0[k] && !strchr(",]\n", s0[k]))
        k++;
    return ic_seterr(IC_ERR_FORMAT, "%s:%d: \"%s\"[%d]: '%.*s' is not a number", j->file, j->line,
                     key, index, k, s0);
}

static ic_status j_object(jp *j, cols *c, int depth, int *counts, int *caps);

static ic_status j_member(jp *j, cols *c, const char *key, int keyline, int depth, int *counts,
                          int *caps, int *seen)
{
    int m = metric_index(key);
    j_ws(j);
    if (m == M_NONE && !strcmp(key, "metrics") && *j->p == '{' && depth == 0)
        return j_object(j, c, depth + 1, counts, caps); /* R: history$metrics */
    if (m == M_NONE)
        return j_skip(j, depth + 1);
    int slot = m == M_EPOCH ? M_N : m;
    if (seen[slot]++)
        return ic_seterr(IC_ERR_FORMAT, "%s:%d: key \"%s\" appears twice", j->file, keyline, key);
    if (*j->p != '[')
        return j_err(j, "an array of numbers");
    j->p++;
    j_ws(j);
    int n = 0;
    if (*j->p == ']')
        j->p++;
    else
        for (;;) {
            j_ws(j);
            double v;
            ic_status s = j_number(j, key, n, &v);
            if (s)
                return s;
            if (m == M_EPOCH) {
                if (!isfinite(v) || v != floor(v))
                    return ic_seterr(IC_ERR_FORMAT, "%s:%d: \"epoch\"[%d] is not a whole number",
                                     j->file, j->line, n);
                n++;
            } else if ((s = cols_push(&c->v[m], &counts[m], &caps[m], v)))
                return s;
            else
                n = counts[m];
            j_ws(j);
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p == ']') {
                j->p++;
                break;
            }
            return j_err(j, "',' or ']'");
        }
    if (m >= 0)
        c->have[m] = 1;
    /* All arrays must have the same length: the first one sets it. */
    if (c->n < 0)
        c->n = n;
    else if (n != c->n)
        return ic_seterr(IC_ERR_FORMAT, "%s:%d: \"%s\" has %d values, earlier arrays have %d",
                         j->file, j->line, key, n, c->n);
    return IC_OK;
}

static ic_status j_object(jp *j, cols *c, int depth, int *counts, int *caps)
{
    int seen[M_N + 1] = {0};
    j_ws(j);
    if (*j->p != '{')
        return j_err(j, "'{'");
    j->p++;
    j_ws(j);
    if (*j->p == '}') {
        j->p++;
        return IC_OK;
    }
    for (;;) {
        char key[32];
        int fits;
        j_ws(j);
        int keyline = j->line;
        ic_status s = j_string(j, key, sizeof key, &fits);
        if (s)
            return s;
        if (!fits)
            key[0] = 0;
        j_ws(j);
        if (*j->p != ':')
            return j_err(j, "':'");
        j->p++;
        if ((s = j_member(j, c, key, keyline, depth, counts, caps, seen)))
            return s;
        j_ws(j);
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == '}') {
            j->p++;
            return IC_OK;
        }
        return j_err(j, "',' or '}'");
    }
}

static ic_status load_json(const char *path, const char *text, cols *c)
{
    jp j = {text, path, 1};
    int counts[M_N] = {0}, caps[M_N] = {0};
    c->n = -1;
    ic_status s = j_object(&j, c, 0, counts, caps);
    if (s)
        return s;
    j_ws(&j);
    if (*j.p)
        return j_err(&j, "the end of the file after the JSON object");
    if (c->n < 0)
        c->n = 0;
    return IC_OK;
}

/* ---- Entry point ---- */

ic_status ic_history_load(const char *path, ic_history **out)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "ic_history_load: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return ic_seterr(IC_ERR_INVALID, "ic_history_load: no path given");
    char *text;
    size_t len = 0;
    ic_status s = read_file(path, &text, &len);
    if (s)
        return s;
    const char *p = text;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3;
    const char *q = p;
    while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
        q++;
    cols c;
    memset(&c, 0, sizeof c);
    s = *q == '{' ? load_json(path, p, &c) : load_csv(path, p, &c);
    if (!s)
        s = cols_to_history(&c, path, out);
    cols_free(&c);
    ic__free(text);
    return s;
}
