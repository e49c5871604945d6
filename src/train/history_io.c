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
 * error names the file, and the line for CSV and JSON syntax errors. JSON is read with
 * cJSON.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
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

/* ---- JSON ----
 * Parsed by cJSON. Python's json module writes NaN, Infinity and -Infinity, which JSON
 * does not have, so a pass over the text first turns them (outside strings) into null and
 * 1e999, which read back as NaN and infinity. Syntax errors give the line; errors in the
 * content name the key and the index in its array. */

/* A copy of text that cJSON parses; *open_quote is the offset in the copy of the quote of
 * a string that the text never closes, else -1. */
static ic_status json_copy(const char *text, char **out, long *open_quote)
{
    size_t n = strlen(text);
    char *b = ic__malloc(n + n / 3 + 2); /* "NaN" -> "null" grows by a third at most */
    if (!b)
        return IC_ERR_NOMEM;
    size_t o = 0;
    const char *p = text;
    *open_quote = -1;
    while (*p) {
        if (*p == '"') {
            *open_quote = (long)o;
            b[o++] = *p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    b[o++] = *p++;
                b[o++] = *p++;
            }
            if (*p) {
                b[o++] = *p++;
                *open_quote = -1;
            }
        } else if (isalpha((unsigned char)*p)) {
            const char *w = p;
            while (isalnum((unsigned char)*p) || *p == '_')
                p++;
            size_t l = (size_t)(p - w);
            const char *to = l == 3 && !memcmp(w, "NaN", 3)        ? "null"
                             : l == 8 && !memcmp(w, "Infinity", 8) ? "1e999"
                                                                   : NULL;
            if (to) {
                memcpy(b + o, to, strlen(to));
                o += strlen(to);
            } else {
                memcpy(b + o, w, l);
                o += l;
            }
        } else {
            b[o++] = *p++;
        }
    }
    b[o] = 0;
    *out = b;
    return IC_OK;
}

/* 1 + the newlines before at. */
static int line_at(const char *text, const char *at)
{
    int line = 1;
    for (const char *p = text; p < at && *p; p++)
        line += *p == '\n';
    return line;
}

/* The syntax error cJSON stopped at (at); the end of the text means a truncated file. */
static ic_status json_syntax_error(const char *path, const char *text, const char *at,
                                   long open_quote)
{
    const char *q = at;
    while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
        q++;
    if (!*q || (open_quote >= 0 && at > text + open_quote))
        return ic_seterr(IC_ERR_FORMAT, "%s:%d: unexpected end of file (truncated JSON?)", path,
                         line_at(text, text + strlen(text)));
    int k = 0;
    while (k < 20 && at[k] && at[k] != '\n' && at[k] != '\r')
        k++;
    return ic_seterr(IC_ERR_FORMAT, "%s:%d: malformed JSON at '%.*s'", path, line_at(text, at), k,
                     at);
}

/* One array element as a number: a number, null (NaN), or a string naming a number
 * ("NaN", "0.5"). */
static ic_status json_number(const char *path, const char *key, int index, const cJSON *v,
                             double *out)
{
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return IC_OK;
    }
    if (cJSON_IsNull(v)) {
        *out = NAN;
        return IC_OK;
    }
    if (cJSON_IsString(v) && *v->valuestring &&
        !parse_number(v->valuestring, strlen(v->valuestring), out))
        return IC_OK;
    char *text = cJSON_PrintUnformatted(v);
    ic_status s = ic_seterr(IC_ERR_FORMAT, "%s: \"%s\"[%d]: '%.20s' is not a number", path, key,
                            index, text ? text : "?");
    cJSON_free(text);
    return s;
}

static ic_status json_object(const char *path, const cJSON *obj, int depth, cols *c, int *counts,
                             int *caps);

/* One member of the history object: a metric's or epoch's array, R's "metrics" object,
 * or anything else (skipped). */
static ic_status json_member(const char *path, const cJSON *item, int depth, cols *c,
                             int *counts, int *caps, int *seen)
{
    const char *key = item->string;
    int m = metric_index(key);
    if (m == M_NONE && !strcmp(key, "metrics") && cJSON_IsObject(item) && depth == 0)
        return json_object(path, item, depth + 1, c, counts, caps); /* R: history$metrics */
    if (m == M_NONE)
        return IC_OK;
    int slot = m == M_EPOCH ? M_N : m;
    if (seen[slot]++)
        return ic_seterr(IC_ERR_FORMAT, "%s: key \"%s\" appears twice", path, key);
    if (!cJSON_IsArray(item)) {
        char *text = cJSON_PrintUnformatted(item);
        ic_status s = ic_seterr(IC_ERR_FORMAT, "%s: \"%s\" must be an array of numbers, got %.40s",
                                path, key, text ? text : "?");
        cJSON_free(text);
        return s;
    }
    int n = 0, i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, item)
    {
        double v;
        ic_status s = json_number(path, key, i, e, &v);
        if (s)
            return s;
        if (m == M_EPOCH) {
            if (!isfinite(v) || v != floor(v))
                return ic_seterr(IC_ERR_FORMAT, "%s: \"epoch\"[%d] is not a whole number", path,
                                 i);
            n++;
        } else if ((s = cols_push(&c->v[m], &counts[m], &caps[m], v))) {
            return s;
        } else {
            n = counts[m];
        }
        i++;
    }
    if (m >= 0)
        c->have[m] = 1;
    /* All arrays must have the same length: the first one sets it. */
    if (c->n < 0)
        c->n = n;
    else if (n != c->n)
        return ic_seterr(IC_ERR_FORMAT, "%s: \"%s\" has %d values, earlier arrays have %d", path,
                         key, n, c->n);
    return IC_OK;
}

static ic_status json_object(const char *path, const cJSON *obj, int depth, cols *c, int *counts,
                             int *caps)
{
    int seen[M_N + 1] = {0};
    const cJSON *item;
    cJSON_ArrayForEach(item, obj)
    {
        ic_status s = json_member(path, item, depth, c, counts, caps, seen);
        if (s)
            return s;
    }
    return IC_OK;
}

static ic_status load_json(const char *path, const char *text, cols *c)
{
    char *copy;
    long open_quote;
    ic_status s = json_copy(text, &copy, &open_quote);
    if (s)
        return s;
    const char *end = NULL;
    cJSON *root = NULL;
    s = ic__json_parse(copy, &end, 0, &root);
    if (s == IC_ERR_NOMEM) {
        ic__errctx(s, "%s: reading the history", path);
    } else if (!root) {
        s = json_syntax_error(path, copy, end ? end : copy, open_quote);
    } else {
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end) {
            s = ic_seterr(IC_ERR_FORMAT,
                          "%s:%d: malformed JSON: text after the end of the object at '%.20s'",
                          path, line_at(copy, end), end);
        } else if (!cJSON_IsObject(root)) {
            s = ic_seterr(IC_ERR_FORMAT, "%s: the JSON history must be an object", path);
        } else {
            int counts[M_N] = {0}, caps[M_N] = {0};
            c->n = -1;
            s = json_object(path, root, 0, c, counts, caps);
            if (!s && c->n < 0)
                c->n = 0;
        }
    }
    cJSON_Delete(root);
    ic__free(copy);
    return s;
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
