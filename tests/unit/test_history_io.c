/* test_history_io.c - history files: CSV and JSON round trips that are bit-exact (NaN,
 * infinities, -0, denormals, 17-digit values), the exact text written, files of other
 * tools (Keras CSVLogger, pandas, Python json with NaN), errors that name the file (and the
 * line, in CSV and for JSON syntax), and atomic writes that leave no temporary files. */
#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

#include "harness.h"

static char g_dir[4096];

static const char *path_of(const char *name)
{
    static char buf[4][4200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void write_text(const char *name, const char *text)
{
    FILE *fp = fopen(path_of(name), "wb");
    if (!fp) {
        perror(name);
        exit(1);
    }
    fputs(text, fp);
    fclose(fp);
}

static char *read_text(const char *name)
{
    static char buf[65536];
    FILE *fp = fopen(path_of(name), "rb");
    size_t n = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
    if (fp)
        fclose(fp);
    buf[n] = 0;
    return buf;
}

static int bits_equal(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    uint64_t x, y;
    memcpy(&x, &a, 8);
    memcpy(&y, &b, 8);
    return x == y;
}

static const char *const NAMES[4] = {"loss", "acc", "val_loss", "val_acc"};

static int same_history(const ic_history *a, const ic_history *b)
{
    int n = ic_history_epochs(a);
    if (n != ic_history_epochs(b))
        return 0;
    for (int k = 0; k < 4; k++) {
        const double *x = ic_history_metric(a, NAMES[k]), *y = ic_history_metric(b, NAMES[k]);
        if (!x != !y)
            return 0;
        for (int e = 0; x && e < n; e++)
            if (!bits_equal(x[e], y[e])) {
                fprintf(stderr, "%s[%d]: %.17g vs %.17g\n", NAMES[k], e, x[e], y[e]);
                return 0;
            }
    }
    return 1;
}

static ic_history *tricky(int acc, int val)
{
    ic_history *h;
    OK(ic_history_create(&h, acc, val));
    const double v[] = {0.1, 1.0 / 3,    0.69314718055994529, -0.0,  4.9e-324,
                        NAN, INFINITY,   -INFINITY,           1e300, 2.2250738585072014e-308,
                        0.5, 123456.789, 1 - 1e-16,           7e-8,  0};
    int n = (int)(sizeof v / sizeof v[0]);
    for (int e = 0; e < n; e++)
        OK(ic_history_append(h, v[e], v[(e + 3) % n], v[(e + 7) % n], v[(e + 11) % n]));
    return h;
}

static void roundtrip(int acc, int val)
{
    ic_history *h = tricky(acc, val), *r = NULL;
    OK(ic_history_save_csv(h, path_of("h.csv")));
    OK(ic_history_load(path_of("h.csv"), &r));
    CHECKF(same_history(h, r), "CSV round trip acc %d val %d", acc, val);
    ic_history_free(r);
    OK(ic_history_save_json(h, path_of("h.json")));
    OK(ic_history_load(path_of("h.json"), &r));
    CHECKF(same_history(h, r), "JSON round trip acc %d val %d", acc, val);
    ic_history_free(r);
    ic_history_free(h);
}

static void test_roundtrips(void)
{
    roundtrip(1, 1);
    roundtrip(0, 0);
    roundtrip(1, 0);
    roundtrip(0, 1);
    /* zero epochs */
    ic_history *h, *r;
    OK(ic_history_create(&h, 1, 1));
    OK(ic_history_save_csv(h, path_of("e.csv")));
    CHECK(!strcmp(read_text("e.csv"), "epoch,loss,acc,val_loss,val_acc\n"));
    OK(ic_history_load(path_of("e.csv"), &r));
    CHECK(same_history(h, r));
    ic_history_free(r);
    OK(ic_history_save_json(h, path_of("e.json")));
    OK(ic_history_load(path_of("e.json"), &r));
    CHECK(same_history(h, r));
    ic_history_free(r);
    ic_history_free(h);
}

static void test_text(void)
{
    ic_history *h;
    OK(ic_history_create(&h, 1, 1));
    OK(ic_history_append(h, 0.5, 0.75, NAN, 1));
    OK(ic_history_append(h, 0.1, 0.8, 0.25, INFINITY));
    OK(ic_history_save_csv(h, path_of("t.csv")));
    CHECKF(!strcmp(read_text("t.csv"), "epoch,loss,acc,val_loss,val_acc\n"
                                       "1,0.5,0.75,nan,1\n"
                                       "2,0.10000000000000001,0.80000000000000004,0.25,inf\n"),
           "%s", read_text("t.csv"));
    OK(ic_history_save_json(h, path_of("t.json")));
    CHECKF(!strcmp(read_text("t.json"), "{\n  \"epoch\": [1, 2],\n"
                                        "  \"loss\": [0.5, 0.10000000000000001],\n"
                                        "  \"acc\": [0.75, 0.80000000000000004],\n"
                                        "  \"val_loss\": [null, 0.25],\n"
                                        "  \"val_acc\": [1, 1e999]\n}\n"),
           "%s", read_text("t.json"));
    ic_history_free(h);
    OK(ic_history_create(&h, 0, 1));
    OK(ic_history_append(h, 2, 0, 3, 0));
    OK(ic_history_save_csv(h, path_of("t2.csv")));
    CHECK(!strcmp(read_text("t2.csv"), "epoch,loss,val_loss\n1,2,3\n"));
    ic_history_free(h);
}

static void test_foreign(void)
{
    ic_history *h;
    /* Keras CSVLogger: epoch from 0, columns sorted, CRLF, an extra column, a BOM. */
    write_text("keras.csv", "\xEF\xBB\xBF"
                            "epoch,acc,loss,lr,val_acc,val_loss\r\n"
                            "0,0.5,0.7,0.001,0.55,0.69\r\n"
                            "1,0.6,0.6,0.001,0.58,0.65\r\n\r\n");
    OK(ic_history_load(path_of("keras.csv"), &h));
    CHECK(ic_history_epochs(h) == 2);
    CHECK(ic_history_metric(h, "acc")[1] == 0.6 && ic_history_metric(h, "val_loss")[0] == 0.69);
    CHECK(ic_history_metric(h, "loss")[0] == 0.7 && ic_history_metric(h, "val_acc")[1] == 0.58);
    ic_history_free(h);
    /* pandas (empty = NaN, unnamed index column) and R (quoted names, NA, accuracy). */
    write_text("pandas.csv", ",loss,accuracy\n0,0.5,\n1,NA,0.9\n");
    OK(ic_history_load(path_of("pandas.csv"), &h));
    CHECK(ic_history_epochs(h) == 2 && !ic_history_metric(h, "val_loss"));
    CHECK(isnan(ic_history_metric(h, "acc")[0]) && isnan(ic_history_metric(h, "loss")[1]));
    ic_history_free(h);
    write_text("r.csv", "\"loss\",\"val_loss\"\n0.5,0.6\n");
    OK(ic_history_load(path_of("r.csv"), &h));
    CHECK(ic_history_epochs(h) == 1 && ic_history_metric(h, "val_loss")[0] == 0.6);
    ic_history_free(h);
    /* Python json.dump (NaN, Infinity), Keras >= 2.3 names, other keys skipped, R's
     * $metrics nesting. */
    write_text("py.json",
               "{\"val_loss\": [NaN, 0.5], \"val_accuracy\": [0.5, -Infinity],\n"
               " \"loss\": [1.5, 1e-3], \"accuracy\": [\"NaN\", 0.25],\n"
               " \"lr\": [0.001, 0.001], \"params\": {\"epochs\": 2, \"x\": [true, null]}}");
    OK(ic_history_load(path_of("py.json"), &h));
    CHECK(ic_history_epochs(h) == 2 && isnan(ic_history_metric(h, "val_loss")[0]));
    CHECK(ic_history_metric(h, "val_acc")[1] == -INFINITY && isnan(ic_history_metric(h, "acc")[0]));
    CHECK(ic_history_metric(h, "loss")[1] == 1e-3);
    ic_history_free(h);
    /* NaN and Infinity inside strings stay strings (also after an escaped quote). */
    write_text("str.json", "{\"note\": \"a \\\"NaN\\\" Infinity\", \"loss\": [Infinity, NaN],\n"
                           " \"NaN\": [1, 2, 3], \"acc\": [\"Infinity\", \"0.5\"]}");
    OK(ic_history_load(path_of("str.json"), &h));
    CHECK(ic_history_epochs(h) == 2 && ic_history_metric(h, "loss")[0] == INFINITY);
    CHECK(isnan(ic_history_metric(h, "loss")[1]) && ic_history_metric(h, "acc")[0] == INFINITY);
    CHECK(ic_history_metric(h, "acc")[1] == 0.5);
    ic_history_free(h);
    write_text("r.json", "{\"params\": {\"epochs\": 1}, \"metrics\": {\"loss\": [0.25], "
                         "\"acc\": [0.5]}}");
    OK(ic_history_load(path_of("r.json"), &h));
    CHECK(ic_history_epochs(h) == 1 && ic_history_metric(h, "acc")[0] == 0.5);
    ic_history_free(h);
}

#define BAD(name, text, status, substr)                                                            \
    do {                                                                                           \
        ic_history *h_ = (ic_history *)1;                                                          \
        write_text(name, text);                                                                    \
        char want_[256];                                                                           \
        snprintf(want_, sizeof want_, "%s%s", name, substr);                                       \
        EXPECT_ERR(ic_history_load(path_of(name), &h_), status, want_);                            \
        CHECK(h_ == NULL);                                                                         \
    } while (0)

static void test_malformed(void)
{
    BAD("hdr.csv", "epoch,lss,acc\n1,0.5,0.5\n", IC_ERR_FORMAT, ":1: bad header");
    BAD("hdr2.csv", "\n\n1,0.5,0.5\n", IC_ERR_FORMAT, ":3: bad header");
    BAD("dup.csv", "epoch,loss,loss\n", IC_ERR_FORMAT, ":1: column 'loss' appears twice");
    BAD("short.csv", "epoch,loss,acc\n1,0.5,0.5\n2,0.4\n", IC_ERR_FORMAT, ":3: expected 3 fields");
    BAD("long.csv", "epoch,loss\n1,0.5,7\n", IC_ERR_FORMAT, ":2: expected 2 fields");
    BAD("nonnum.csv", "epoch,loss,acc\n1,0.5,abc\n", IC_ERR_FORMAT,
        ":2: column 'acc': 'abc' is not a number");
    BAD("nonnum2.csv", "epoch,loss\n1,0.5x\n", IC_ERR_FORMAT, ":2: column 'loss'");
    BAD("hex.csv", "epoch,loss\n1,0x10\n", IC_ERR_FORMAT, ":2: column 'loss'");
    BAD("epoch.csv", "epoch,loss\n1.5,0.5\n", IC_ERR_FORMAT, ":2: column 'epoch'");
    BAD("empty.csv", "", IC_ERR_FORMAT, ":1: empty file");
    BAD("trunc.json", "{\n  \"loss\": [0.5,\n  0.25", IC_ERR_FORMAT, ":3: unexpected end of file");
    BAD("trunc2.json", "{\"loss\": [0.5], \"acc\": [0.2", IC_ERR_FORMAT, ":1: unexpected end");
    BAD("trunc3.json", "{\"lo", IC_ERR_FORMAT, ":1: unexpected end of file");
    BAD("trunc4.json", "{\"loss\": [1],\n\"note\": \"abc\n", IC_ERR_FORMAT,
        ":3: unexpected end of file (truncated JSON?)");
    BAD("word.json", "{\"loss\": [1],\n \"acc\": [nan]}", IC_ERR_FORMAT,
        ":2: malformed JSON at 'nan]}'");
    BAD("garbage.json", "{\"loss\": [1] x", IC_ERR_FORMAT, ":1: malformed JSON at 'x'");
    BAD("nonnum.json", "{\n\"loss\": [0.5,\n\"abc\"]}", IC_ERR_FORMAT,
        ": \"loss\"[1]: '\"abc\"' is not a number");
    BAD("bool.json", "{\"loss\": [true]}", IC_ERR_FORMAT, ": \"loss\"[0]: 'true' is not a number");
    BAD("len.json", "{\"loss\": [1, 2],\n\"acc\": [1]}", IC_ERR_FORMAT,
        ": \"acc\" has 1 values, earlier arrays have 2");
    BAD("noloss.json", "{\"acc\": [1]}", IC_ERR_FORMAT, ": no 'loss' values");
    BAD("notarray.json", "{\"loss\": 5}", IC_ERR_FORMAT,
        ": \"loss\" must be an array of numbers, got 5");
    BAD("trailing.json", "{\"loss\": [1]}\n}", IC_ERR_FORMAT,
        ":2: malformed JSON: text after the end of the object at '}'");
    BAD("dupkey.json", "{\"loss\": [1],\n \"loss\": [2]}", IC_ERR_FORMAT,
        ": key \"loss\" appears twice");
    ic_history *h;
    EXPECT_ERR(ic_history_load(path_of("missing.csv"), &h), IC_ERR_NOT_FOUND, "missing.csv");
    EXPECT_ERR(ic_history_load(NULL, &h), IC_ERR_INVALID, "no path");
}

static int count_temp_files(void)
{
    int n = 0;
    DIR *d = opendir(g_dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += strstr(de->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void test_atomic(void)
{
    ic_history *h = tricky(1, 1), *r;
    /* Overwrite an existing file: readers see the old or the new file, never a mix. */
    write_text("over.csv", "old content\n");
    OK(ic_history_save_csv(h, path_of("over.csv")));
    OK(ic_history_load(path_of("over.csv"), &r));
    CHECK(same_history(h, r));
    ic_history_free(r);
    OK(ic_history_save_json(h, path_of("over.csv"))); /* content decides the format */
    OK(ic_history_load(path_of("over.csv"), &r));
    CHECK(same_history(h, r));
    ic_history_free(r);
    CHECK(count_temp_files() == 0);
    /* A directory that does not exist: an I/O error naming the file, nothing written. */
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/h.csv", g_dir);
    EXPECT_ERR(ic_history_save_csv(h, bad), IC_ERR_IO, "h.csv");
    EXPECT_ERR(ic_history_save_json(h, bad), IC_ERR_IO, "h.csv");
    /* A path that is a directory: the rename fails, the temp file is removed. */
    char sub[4300];
    snprintf(sub, sizeof sub, "%s/subdir", g_dir);
    mkdir(sub, 0755);
    EXPECT_ERR(ic_history_save_csv(h, sub), IC_ERR_IO, "subdir");
    rmdir(sub);
    EXPECT_ERR(ic_history_save_csv(NULL, path_of("x.csv")), IC_ERR_INVALID, "history");
    CHECK(count_temp_files() == 0);
    ic_history_free(h);
}

/* Fault injection: the Nth allocation fails; every load and save reports NOMEM (or
 * succeeds) without leaking (checked under AddressSanitizer) or crashing. */
static long g_count, g_fail_at;
static void *f_malloc(size_t n, void *u)
{
    (void)u;
    return ++g_count == g_fail_at ? NULL : malloc(n);
}
static void *f_realloc(void *p, size_t n, void *u)
{
    (void)u;
    return ++g_count == g_fail_at ? NULL : realloc(p, n);
}
static void f_free(void *p, void *u)
{
    (void)u;
    free(p);
}

static void test_faults(void)
{
    ic_history *h = tricky(1, 1);
    OK(ic_history_save_csv(h, path_of("f.csv")));
    OK(ic_history_save_json(h, path_of("f.json")));
    ic_history_free(h);
    const char *files[2] = {"f.csv", "f.json"};
    ic_alloc_hooks hooks = {f_malloc, f_realloc, f_free, NULL};
    for (int f = 0; f < 2; f++) {
        int done = 0;
        for (g_fail_at = 1; !done && g_fail_at < 10000; g_fail_at++) {
            g_count = 0;
            ic_set_alloc_hooks(&hooks);
            ic_history *r = NULL;
            ic_status s = ic_history_load(path_of(files[f]), &r);
            ic_set_alloc_hooks(NULL);
            CHECKF(s == IC_OK || (s == IC_ERR_NOMEM && !r), "%s fail_at %ld: %s", files[f],
                   g_fail_at, ic_status_str(s));
            done = s == IC_OK;
            ic_history_free(r);
        }
        CHECK(done);
    }
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/ic_test_history_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_roundtrips();
    test_text();
    test_foreign();
    test_malformed();
    test_atomic();
    test_faults();
    DIR *d = opendir(g_dir);
    struct dirent *de;
    char p[8400];
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", g_dir, de->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(g_dir);
    return t_finish();
}
