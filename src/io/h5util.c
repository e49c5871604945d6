/* h5util.c - small libhdf5 helpers for Keras files.
 *
 * libhdf5 is silenced (no automatic printing) and its failures become ic_status errors
 * naming the file and the object, with libhdf5's own description appended. String
 * attributes are read in both encodings Keras files use: fixed-length NULL-padded
 * arrays (Keras <= 2.4; the longest name fills the width with no NUL) and variable-length
 * strings (tf.keras 2.10, Keras 3), ASCII or UTF-8, including Keras's split attributes
 * (name0, name1, ...) and the empty float64 array h5py writes for an empty list.
 * Everything read from a file is treated as hostile: sizes are checked before allocating.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_impl.h"

#define MAX_STR_BYTES ((size_t)64 << 20) /* one string attribute (model_config JSON) */
#define MAX_ARRAY_BYTES ((size_t)64 << 20)
#define MAX_NAMES (1 << 20)              /* strings in one list attribute */
#define MAX_CHUNKS 100000                /* split attributes name0 .. nameK */
#define KERAS_ATTR_LIMIT 64512           /* Keras's HDF5_OBJECT_HEADER_LIMIT */

void ic__h5_quiet(void)
{
    /* Cheap; repeated because a thread-safe libhdf5 keeps this setting per thread. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* ---- Errors ---- */

typedef struct {
    char top[256], deep[256];
} h5_text;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *ud)
{
    h5_text *t = ud;
    if (e->desc && *e->desc) {
        if (!t->top[0])
            snprintf(t->top, sizeof t->top, "%s", e->desc);
        snprintf(t->deep, sizeof t->deep, "%s", e->desc);
    }
    return 0;
}

ic_status ic__h5_seterr(ic_status s, const char *fmt, ...)
{
    h5_text t = {{0}, {0}};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &t);
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!t.top[0])
        return ic_seterr(s, "%s", msg);
    if (!strcmp(t.top, t.deep))
        return ic_seterr(s, "%s (libhdf5: %s)", msg, t.top);
    return ic_seterr(s, "%s (libhdf5: %s: %s)", msg, t.top, t.deep);
}

/* ---- Global heap check ----
 * libhdf5 keeps variable-length strings in "global heap collections" and trusts the
 * object sizes stored there: a damaged size makes 1.10 loop forever or copy out of
 * bounds when the string is read. Before opening a file, every collection is located by
 * its signature and its objects are checked to tile it exactly, as libhdf5 parses them. */

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Size of lengths from the superblock (2, 4 or 8); 0 if not found. */
static int sizeof_lengths(int fd, off_t file_size)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char b[16];
    for (off_t at = 0; at + 16 <= file_size; at = at ? 2 * at : 512) {
        if (pread(fd, b, 16, at) != 16)
            return 0;
        if (memcmp(b, sig, 8))
            continue;
        int v = b[8] <= 1 ? b[14] : b[10];
        return (v == 2 || v == 4 || v == 8) ? v : 0;
    }
    return 0;
}

/* 0 if the collection at `at` is fine or is no collection (the signature occurring in
 * data), else -1. */
static int check_collection(int fd, off_t at, off_t file_size, int ls)
{
    unsigned char h[24];
    size_t hdr = 16, objhdr = 8 + (size_t)ls; /* H5HG_SIZEOF_HDR / _OBJHDR */
    if (at + 8 + ls > file_size || pread(fd, h, 8 + (size_t)ls, at) != 8 + ls)
        return 0;
    if (h[4] != 1 || h[5] || h[6] || h[7])
        return 0; /* not a version-1 collection header */
    uint64_t size = get_le(h + 8, ls);
    if (size < hdr || size > (uint64_t)(file_size - at))
        return 0; /* libhdf5 refuses these itself (read past the end of file) */
    uint64_t p = hdr;
    unsigned char o[16];
    while (p < size) {
        if (size - p < objhdr)
            break; /* free space too small for an object header */
        off_t q = at + (off_t)p;
        if (pread(fd, o, objhdr, q) != (ssize_t)objhdr)
            return -1;
        unsigned idx = (unsigned)get_le(o, 2);
        uint64_t osize = get_le(o + 8, ls), need;
        if (osize > size)
            return -1;
        need = idx > 0 ? objhdr + ((osize + 7) & ~(uint64_t)7) : osize;
        if (need == 0 || need > size - p)
            return -1;
        p += need;
    }
    return 0;
}

static ic_status check_global_heaps(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ic_seterr(IC_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    ic_status s = IC_OK;
    size_t bs = (size_t)1 << 20;
    unsigned char *buf = NULL;
    int ls;
    if (fstat(fd, &st) != 0 || (ls = sizeof_lengths(fd, st.st_size)) == 0)
        goto done;
    if (!(buf = ic__malloc(bs))) {
        s = IC_ERR_NOMEM;
        goto done;
    }
    for (off_t off = 0; off < st.st_size && !s;) {
        ssize_t n = pread(fd, buf, bs, off);
        if (n < 0) {
            s = ic_seterr(IC_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        if (n < 4)
            break;
        for (ssize_t i = 0; i + 4 <= n; i++) {
            unsigned char *g = memchr(buf + i, 'G', (size_t)(n - 3 - i));
            if (!g)
                break;
            i = g - buf;
            if (memcmp(g, "GCOL", 4))
                continue;
            if (check_collection(fd, off + i, st.st_size, ls)) {
                s = ic_seterr(IC_ERR_FORMAT, "%s: damaged HDF5 global heap at offset %lld", path,
                              (long long)(off + i));
                break;
            }
        }
        if (off + n >= st.st_size)
            break;
        off += n - 3;
    }
done:
    ic__free(buf);
    close(fd);
    return s;
}

ic_status ic__h5_open_read(const char *path, hid_t *out)
{
    *out = H5I_INVALID_HID;
    ic__h5_quiet();
    if (!path || !*path)
        return ic_seterr(IC_ERR_INVALID, "empty file name");
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        return ic_seterr(e == ENOENT ? IC_ERR_NOT_FOUND : IC_ERR_IO, "%s: %s", path,
                         strerror(e));
    }
    if (!S_ISREG(st.st_mode))
        return ic_seterr(IC_ERR_IO, "%s: not a regular file", path);
    htri_t is = H5Fis_hdf5(path);
    if (is < 0)
        return ic__h5_seterr(IC_ERR_IO, "%s: cannot read the file", path);
    if (is == 0)
        return ic_seterr(IC_ERR_FORMAT, "%s: not an HDF5 file (no HDF5 signature)", path);
    ic_status s = check_global_heaps(path);
    if (s)
        return s;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return ic__h5_seterr(IC_ERR_NOMEM, "%s: H5Pcreate failed", path);
    /* Closing the file closes every object still open in it. */
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0) {
        s = ic__h5_seterr(IC_ERR_FORMAT, "%s: truncated or damaged HDF5 file", path);
        H5Pclose(fapl);
        return s;
    }
    H5Pclose(fapl);
    *out = f;
    return IC_OK;
}

/* "/block1_conv1" for messages. Call it before anything can fail: like every libhdf5 call,
 * it clears the error stack that ic__h5_seterr reads. */
static const char *obj_name(hid_t obj, char *buf, size_t size)
{
    ic__h5_quiet();
    ssize_t n = H5Iget_name(obj, buf, size);
    if (n <= 0)
        snprintf(buf, size, "?");
    return buf;
}

static const char *class_str(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "vlen";
    case H5T_ENUM: return "enum";
    case H5T_REFERENCE: return "reference";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_TIME: return "time";
    default: return "unknown";
    }
}

/* ---- Reading ---- */

/* An opened attribute with its type and space; closes whatever is open. */
typedef struct {
    hid_t a, t, sp, mt;
} attr_h;

static void attr_close(attr_h *h)
{
    if (h->mt >= 0)
        H5Tclose(h->mt);
    if (h->sp >= 0)
        H5Sclose(h->sp);
    if (h->t >= 0)
        H5Tclose(h->t);
    if (h->a >= 0)
        H5Aclose(h->a);
    h->a = h->t = h->sp = h->mt = H5I_INVALID_HID;
}

static ic_status attr_open(hid_t obj, const char *name, const char *file, attr_h *h,
                           hssize_t *npoints)
{
    char where[512];
    obj_name(obj, where, sizeof where);
    h->a = h->t = h->sp = h->mt = H5I_INVALID_HID;
    h->a = H5Aopen(obj, name, H5P_DEFAULT);
    if (h->a < 0)
        return ic__h5_seterr(IC_ERR_FORMAT, "%s: cannot open attribute '%s' of '%s'", file, name,
                             where);
    h->t = H5Aget_type(h->a);
    h->sp = H5Aget_space(h->a);
    if (h->t < 0 || h->sp < 0) {
        ic_status s = ic__h5_seterr(IC_ERR_FORMAT, "%s: attribute '%s' of '%s' is damaged", file,
                                    name, where);
        attr_close(h);
        return s;
    }
    H5S_class_t sc = H5Sget_simple_extent_type(h->sp);
    int rank = H5Sget_simple_extent_ndims(h->sp);
    hssize_t np = H5Sget_simple_extent_npoints(h->sp);
    if (sc == H5S_NULL) {
        np = 0;
    } else if (sc == H5S_NO_CLASS || rank < 0 || rank > 1 || np < 0) {
        attr_close(h);
        return ic_seterr(IC_ERR_FORMAT,
                         "%s: attribute '%s' of '%s' is not a scalar or a 1-D array (rank %d)",
                         file, name, where, rank);
    }
    *npoints = np;
    return IC_OK;
}

/* Memory type for reading strings of file type t without conversion. */
static hid_t str_memtype(hid_t t, int variable)
{
    hid_t mt = H5Tcopy(H5T_C_S1);
    if (mt < 0)
        return mt;
    H5T_cset_t cs = H5Tget_cset(t);
    if (H5Tset_size(mt, variable ? H5T_VARIABLE : H5Tget_size(t)) < 0 ||
        (cs >= 0 && H5Tset_cset(mt, cs) < 0) ||
        (!variable && H5Tset_strpad(mt, H5Tget_strpad(t)) < 0)) {
        H5Tclose(mt);
        return H5I_INVALID_HID;
    }
    return mt;
}

ic_status ic__h5_read_str_attr(hid_t obj, const char *name, const char *file, char **out)
{
    char where[512];
    obj_name(obj, where, sizeof where);
    *out = NULL;
    ic__h5_quiet();
    htri_t ex = H5Aexists(obj, name);
    if (ex < 0)
        return ic__h5_seterr(IC_ERR_FORMAT, "%s: cannot look up attribute '%s' of '%s'", file,
                             name, where);
    if (ex == 0)
        return ic_seterr(IC_ERR_NOT_FOUND, "%s: '%s' has no attribute '%s'", file,
                         where, name);
    attr_h h;
    hssize_t np;
    ic_status s = attr_open(obj, name, file, &h, &np);
    if (s)
        return s;
    if (H5Tget_class(h.t) != H5T_STRING || np != 1) {
        s = ic_seterr(IC_ERR_FORMAT, "%s: attribute '%s' of '%s' is not a string (%s, %lld values)",
                      file, name, where, class_str(H5Tget_class(h.t)),
                      (long long)np);
        attr_close(&h);
        return s;
    }
    htri_t vl = H5Tis_variable_str(h.t);
    h.mt = vl < 0 ? H5I_INVALID_HID : str_memtype(h.t, vl > 0);
    if (h.mt < 0) {
        s = ic__h5_seterr(IC_ERR_FORMAT, "%s: attribute '%s' of '%s': unreadable string type",
                          file, name, where);
        attr_close(&h);
        return s;
    }
    if (vl > 0) {
        char *v = NULL;
        if (H5Aread(h.a, h.mt, &v) < 0) {
            s = ic__h5_seterr(IC_ERR_FORMAT, "%s: reading attribute '%s' of '%s' failed", file,
                              name, where);
        } else {
            size_t len = v ? strnlen(v, MAX_STR_BYTES + 1) : 0;
            if (len > MAX_STR_BYTES) {
                s = ic_seterr(IC_ERR_FORMAT, "%s: attribute '%s' of '%s' is longer than %zu bytes",
                              file, name, where, MAX_STR_BYTES);
            } else if (!(*out = ic__malloc(len + 1))) {
                s = IC_ERR_NOMEM;
            } else {
                if (len)
                    memcpy(*out, v, len);
                (*out)[len] = '\0';
            }
            H5Dvlen_reclaim(h.mt, h.sp, H5P_DEFAULT, &v);
        }
    } else {
        size_t size = H5Tget_size(h.t);
        if (size == 0 || size > MAX_STR_BYTES) {
            s = ic_seterr(IC_ERR_FORMAT, "%s: attribute '%s' of '%s' has a bad string size %zu",
                          file, name, where, size);
        } else if (!(*out = ic__malloc(size + 1))) {
            s = IC_ERR_NOMEM;
        } else if (H5Aread(h.a, h.mt, *out) < 0) {
            s = ic__h5_seterr(IC_ERR_FORMAT, "%s: reading attribute '%s' of '%s' failed", file,
                              name, where);
        } else {
            (*out)[size] = '\0';
        }
    }
    attr_close(&h);
    if (s) {
        ic__free(*out);
        *out = NULL;
    }
    return s;
}

/* One list attribute as n (pointer, length) pairs into a private copy. */
typedef struct {
    char **v; /* one block: n pointers, then the strings */
    int n;
} strlist;

/* Packs n strings of given lengths (not NUL-terminated) into one block. */
static ic_status pack(const char *const *src, const size_t *len, int n, strlist *out)
{
    size_t total = (size_t)(n ? n : 1) * sizeof(char *);
    for (int i = 0; i < n; i++)
        total += len[i] + 1;
    char **v = ic__malloc(total);
    if (!v)
        return IC_ERR_NOMEM;
    char *p = (char *)(v + (n ? n : 1));
    if (!n)
        v[0] = NULL;
    for (int i = 0; i < n; i++) {
        v[i] = p;
        if (len[i])
            memcpy(p, src[i], len[i]);
        p[len[i]] = '\0';
        p += len[i] + 1;
    }
    out->v = v;
    out->n = n;
    return IC_OK;
}

static ic_status read_list(hid_t obj, const char *name, const char *file, strlist *out)
{
    char where[512];
    obj_name(obj, where, sizeof where);
    out->v = NULL;
    out->n = 0;
    attr_h h;
    hssize_t np;
    ic_status s = attr_open(obj, name, file, &h, &np);
    if (s)
        return s;
    H5T_class_t cls = H5Tget_class(h.t);
    if (np == 0) { /* [] : h5py writes an empty float64 array */
        attr_close(&h);
        return pack(NULL, NULL, 0, out);
    }
    if (cls != H5T_STRING) {
        s = ic_seterr(IC_ERR_FORMAT, "%s: attribute '%s' of '%s' is not a string list (%s)",
                      file, name, where, class_str(cls));
        attr_close(&h);
        return s;
    }
    if (np > MAX_NAMES) {
        s = ic_seterr(IC_ERR_FORMAT, "%s: attribute '%s' of '%s' lists %lld names (limit %d)",
                      file, name, where, (long long)np, MAX_NAMES);
        attr_close(&h);
        return s;
    }
    int n = (int)np;
    htri_t vl = H5Tis_variable_str(h.t);
    h.mt = vl < 0 ? H5I_INVALID_HID : str_memtype(h.t, vl > 0);
    size_t *len = ic__malloc((size_t)n * sizeof *len);
    const char **src = ic__malloc((size_t)n * sizeof *src);
    if (!len || !src) {
        s = IC_ERR_NOMEM;
    } else if (h.mt < 0) {
        s = ic__h5_seterr(IC_ERR_FORMAT, "%s: attribute '%s' of '%s': unreadable string type",
                          file, name, where);
    } else if (vl > 0) {
        char **ptrs = ic__calloc((size_t)n, sizeof *ptrs);
        if (!ptrs) {
            s = IC_ERR_NOMEM;
        } else if (H5Aread(h.a, h.mt, ptrs) < 0) {
            s = ic__h5_seterr(IC_ERR_FORMAT, "%s: reading attribute '%s' of '%s' failed", file,
                              name, where);
        } else {
            size_t total = 0;
            for (int i = 0; i < n && !s; i++) {
                src[i] = ptrs[i] ? ptrs[i] : "";
                len[i] = strnlen(src[i], MAX_STR_BYTES + 1);
                total += len[i];
                if (total > MAX_ARRAY_BYTES)
                    s = ic_seterr(IC_ERR_FORMAT, "%s: attribute '%s' of '%s' is too large", file,
                                  name, where);
            }
            if (!s)
                s = pack(src, len, n, out);
            H5Dvlen_reclaim(h.mt, h.sp, H5P_DEFAULT, ptrs);
        }
        ic__free(ptrs);
    } else {
        size_t w = H5Tget_size(h.t);
        char *buf = NULL;
        if (w == 0 || w > MAX_ARRAY_BYTES / (size_t)n) {
            s = ic_seterr(IC_ERR_FORMAT,
                          "%s: attribute '%s' of '%s': %d strings of %zu bytes is too large",
                          file, name, where, n, w);
        } else if (!(buf = ic__malloc(w * (size_t)n))) {
            s = IC_ERR_NOMEM;
        } else if (H5Aread(h.a, h.mt, buf) < 0) {
            s = ic__h5_seterr(IC_ERR_FORMAT, "%s: reading attribute '%s' of '%s' failed", file,
                              name, where);
        } else {
            /* NULL-padded: a name as long as the width has no NUL. */
            for (int i = 0; i < n; i++) {
                src[i] = buf + (size_t)i * w;
                len[i] = strnlen(src[i], w);
            }
            s = pack(src, len, n, out);
        }
        ic__free(buf);
    }
    ic__free(len);
    ic__free(src);
    attr_close(&h);
    return s;
}

ic_status ic__h5_read_str_array_attr(hid_t obj, const char *name, const char *file, char ***out,
                                     int *n)
{
    char where[512], cname[300];
    obj_name(obj, where, sizeof where);
    *out = NULL;
    *n = 0;
    ic__h5_quiet();
    htri_t ex = H5Aexists(obj, name);
    if (ex < 0)
        return ic__h5_seterr(IC_ERR_FORMAT, "%s: cannot look up attribute '%s' of '%s'", file,
                             name, where);
    strlist one;
    if (ex > 0) {
        ic_status s = read_list(obj, name, file, &one);
        if (s)
            return s;
        *out = one.v;
        *n = one.n;
        return IC_OK;
    }
    /* Split: name0, name1, ... until the first missing one. */
    int nchunks = 0;
    for (;; nchunks++) {
        if (nchunks >= MAX_CHUNKS)
            return ic_seterr(IC_ERR_FORMAT, "%s: '%s' has more than %d parts of attribute '%s'",
                             file, where, MAX_CHUNKS, name);
        snprintf(cname, sizeof cname, "%s%d", name, nchunks);
        ex = H5Aexists(obj, cname);
        if (ex < 0)
            return ic__h5_seterr(IC_ERR_FORMAT, "%s: cannot look up attribute '%s' of '%s'",
                                 file, cname, where);
        if (!ex)
            break;
    }
    if (nchunks == 0)
        return ic_seterr(IC_ERR_NOT_FOUND, "%s: '%s' has no attribute '%s'", file,
                         where, name);
    strlist *parts = ic__calloc((size_t)nchunks, sizeof *parts);
    if (!parts)
        return IC_ERR_NOMEM;
    ic_status s = IC_OK;
    int64_t total = 0;
    for (int c = 0; c < nchunks && !s; c++) {
        snprintf(cname, sizeof cname, "%s%d", name, c);
        s = read_list(obj, cname, file, &parts[c]);
        total += parts[c].n;
        if (!s && total > MAX_NAMES)
            s = ic_seterr(IC_ERR_FORMAT, "%s: attribute '%s' of '%s' lists more than %d names",
                          file, name, where, MAX_NAMES);
    }
    const char **src = NULL;
    size_t *len = NULL;
    if (!s) {
        src = ic__malloc((size_t)(total ? total : 1) * sizeof *src);
        len = ic__malloc((size_t)(total ? total : 1) * sizeof *len);
        if (!src || !len)
            s = IC_ERR_NOMEM;
    }
    if (!s) {
        int k = 0;
        for (int c = 0; c < nchunks; c++)
            for (int i = 0; i < parts[c].n; i++, k++) {
                src[k] = parts[c].v[i];
                len[k] = strlen(parts[c].v[i]);
            }
        s = pack(src, len, (int)total, &one);
    }
    ic__free(src);
    ic__free(len);
    for (int c = 0; c < nchunks; c++)
        ic__free(parts[c].v);
    ic__free(parts);
    if (s)
        return s;
    *out = one.v;
    *n = one.n;
    return IC_OK;
}

/* ---- Writing ---- */

static ic_status delete_attr(hid_t obj, const char *name, const char *file)
{
    char where[512];
    obj_name(obj, where, sizeof where);
    htri_t ex = H5Aexists(obj, name);
    if (ex > 0 && H5Adelete(obj, name) >= 0)
        return IC_OK;
    if (ex == 0)
        return IC_OK;
    return ic__h5_seterr(IC_ERR_IO, "%s: cannot replace attribute '%s' of '%s'", file, name,
                         where);
}

ic_status ic__h5_write_str_attr(hid_t obj, const char *name, const char *value, const char *file)
{
    char where[512];
    obj_name(obj, where, sizeof where);
    ic__h5_quiet();
    ic_status s = delete_attr(obj, name, file);
    if (s)
        return s;
    int utf8 = 0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        utf8 |= *p >= 0x80;
    hid_t t = H5Tcopy(H5T_C_S1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5I_INVALID_HID;
    if (t < 0 || sp < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 ||
        H5Tset_cset(t, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) < 0 ||
        (a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(a, t, &value) < 0)
        s = ic__h5_seterr(IC_ERR_IO, "%s: writing attribute '%s' of '%s' failed", file, name,
                          where);
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    return s;
}

/* One fixed-length attribute holding strings [0, n) of buf (width w each). */
static ic_status write_fixed(hid_t obj, const char *name, const char *buf, size_t w, int n,
                             const char *file)
{
    char where[512];
    obj_name(obj, where, sizeof where);
    ic_status s = delete_attr(obj, name, file);
    if (s)
        return s;
    hsize_t dim = (hsize_t)n;
    hid_t t = H5Tcopy(H5T_C_S1);
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t a = H5I_INVALID_HID;
    if (t < 0 || sp < 0 || H5Tset_size(t, w) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
        H5Tset_cset(t, H5T_CSET_ASCII) < 0 ||
        (a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(a, t, buf) < 0)
        s = ic__h5_seterr(IC_ERR_IO, "%s: writing attribute '%s' of '%s' failed", file, name,
                          where);
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    return s;
}

ic_status ic__h5_write_str_array_attr(hid_t obj, const char *name, const char *const *v, int n,
                                      const char *file)
{
    char where[512];
    obj_name(obj, where, sizeof where);
    ic__h5_quiet();
    if (n <= 0) { /* h5py stores [] as an empty float64 array */
        ic_status s = delete_attr(obj, name, file);
        if (s)
            return s;
        hsize_t dim = 0;
        hid_t sp = H5Screate_simple(1, &dim, NULL);
        hid_t a = sp < 0 ? H5I_INVALID_HID
                         : H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0)
            s = ic__h5_seterr(IC_ERR_IO, "%s: writing attribute '%s' of '%s' failed", file, name,
                              where);
        else
            H5Aclose(a);
        if (sp >= 0)
            H5Sclose(sp);
        return s;
    }
    size_t w = 1; /* numpy's itemsize: the longest string, at least 1 */
    for (int i = 0; i < n; i++) {
        size_t l = strlen(v[i]);
        if (l > w)
            w = l;
    }
    if (w > KERAS_ATTR_LIMIT)
        return ic_seterr(IC_ERR_INVALID, "%s: a name in attribute '%s' of '%s' is longer than %d "
                         "bytes", file, name, where, KERAS_ATTR_LIMIT);
    char *buf = ic__calloc((size_t)n, w);
    if (!buf)
        return IC_ERR_NOMEM;
    for (int i = 0; i < n; i++)
        memcpy(buf + (size_t)i * w, v[i], strlen(v[i]));
    /* Keras splits with np.array_split into the fewest chunks of at most 64512 bytes: the
     * first n % k chunks hold n / k + 1 names, the others n / k. */
    int k = 1;
    while ((size_t)((n + k - 1) / k) * w > KERAS_ATTR_LIMIT)
        k++;
    ic_status s = IC_OK;
    if (k == 1) {
        s = write_fixed(obj, name, buf, w, n, file);
    } else {
        char cname[300];
        int start = 0;
        for (int c = 0; c < k && !s; c++) {
            int cnt = n / k + (c < n % k);
            snprintf(cname, sizeof cname, "%s%d", name, c);
            s = write_fixed(obj, cname, buf + (size_t)start * w, w, cnt, file);
            start += cnt;
        }
    }
    ic__free(buf);
    return s;
}
