/* download.c - ic_weights_fetch: pretrained weight files into the cache, as Keras's
 * get_file(fname, origin, file_hash=md5) does, but never leaving a partial file.
 *
 * The body is streamed (libcurl easy API: redirects followed, HTTP >= 400 an error,
 * connect timeout and a low-speed abort) into an atomic temp file next to the final name
 * while its md5 is computed incrementally (OpenSSL EVP); only a complete transfer whose
 * md5 matches Keras's constant is renamed into place. Everything else removes the temp
 * file. A cached file is verified the same way and used without touching the network;
 * a cached file with the wrong md5 is downloaded again.
 *
 * Environment: IMGCLASS_WEIGHTS_URL_BASE (a mirror: <base>/<file name>),
 * IMGCLASS_DOWNLOAD_TIMEOUT (seconds for the connect timeout and for the low-speed abort,
 * default 30 and 60). Progress totals are 0 when the server sends no length. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "core/core.h"
#include "io/io_impl.h"

#define LOW_SPEED_BYTES 1024L /* abort below 1 KB/s ... */
#define LOW_SPEED_SECS 60L    /* ... sustained this long */
#define CONNECT_SECS 30L
#define PROGRESS_EVERY 0.1 /* seconds between progress calls */

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc;

static void curl_init_once(void)
{
    g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void to_hex(const unsigned char *d, unsigned n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = '\0';
}

static ic_status md5_final(EVP_MD_CTX *md, char hex[33])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_DigestFinal_ex(md, d, &n) != 1 || n != 16)
        return ic_seterr(IC_ERR_INTERNAL, "OpenSSL: md5 finalisation failed");
    to_hex(d, n, hex);
    return IC_OK;
}

ic_status ic__md5_file(const char *path, char hex[33])
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ic_seterr(IC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = ic__malloc(1 << 20);
    ic_status s = IC_OK;
    if (!md || !buf) {
        s = buf ? ic_seterr(IC_ERR_NOMEM, "OpenSSL: cannot create an md5 context") : IC_ERR_NOMEM;
        goto done;
    }
    if (EVP_DigestInit_ex(md, EVP_md5(), NULL) != 1) {
        s = ic_seterr(IC_ERR_INTERNAL, "OpenSSL: md5 is not available");
        goto done;
    }
    size_t n;
    while ((n = fread(buf, 1, 1 << 20, fp)) > 0)
        if (EVP_DigestUpdate(md, buf, n) != 1) {
            s = ic_seterr(IC_ERR_INTERNAL, "OpenSSL: md5 update failed");
            goto done;
        }
    if (ferror(fp)) {
        s = ic_seterr(IC_ERR_IO, "reading %s failed", path);
        goto done;
    }
    s = md5_final(md, hex);
done:
    ic__free(buf);
    EVP_MD_CTX_free(md);
    fclose(fp);
    return s;
}

/* ---- one transfer ---- */

typedef struct dl {
    ic__atomic_file af;
    EVP_MD_CTX *md;
    int64_t received;
    int write_errno; /* the temp file could not be written */
    int md_failed;
    ic_progress_fn progress;
    void *user;
    double last_time;
    int64_t last_done, last_total;
} dl;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *p)
{
    dl *d = p;
    size_t n = size * nmemb;
    if (!n)
        return 0;
    errno = 0;
    if (fwrite(ptr, 1, n, d->af.fp) != n) {
        d->write_errno = errno ? errno : EIO;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (EVP_DigestUpdate(d->md, ptr, n) != 1) {
        d->md_failed = 1;
        return 0;
    }
    d->received += (int64_t)n;
    return n;
}

static void report(dl *d, int64_t done, int64_t total)
{
    d->last_time = now_s();
    d->last_done = done;
    d->last_total = total;
    d->progress(done, total, d->user);
}

static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)ultotal, (void)ulnow, (void)dlnow;
    dl *d = p;
    int64_t done = d->received, total = dltotal > 0 ? (int64_t)dltotal : 0;
    if (!d->progress || done <= 0 || done == d->last_done)
        return 0;
    if (now_s() - d->last_time >= PROGRESS_EVERY || (total > 0 && done >= total))
        report(d, done, total);
    return 0;
}

static long timeout_env(long dflt)
{
    const char *e = getenv("IMGCLASS_DOWNLOAD_TIMEOUT");
    if (!e || !*e)
        return dflt;
    char *end;
    long v = strtol(e, &end, 10);
    return (*end || v < 1) ? dflt : v;
}

static void set_protocols(CURL *c)
{
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the _STR options */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS,
                     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/* Runs the transfer into d (temp file already open); translates failures. */
static ic_status transfer(dl *d, const char *url, const char *file)
{
    char errbuf[CURL_ERROR_SIZE] = "", agent[64];
    long connect_s = timeout_env(CONNECT_SECS), stall_s = timeout_env(LOW_SPEED_SECS);
    CURL *c = curl_easy_init();
    if (!c)
        return ic_seterr(IC_ERR_NOMEM, "downloading %s: curl_easy_init failed", url);
    snprintf(agent, sizeof agent, "imgclass/%s", ic_version());
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall_s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, agent);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    set_protocols(c);

    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_off_t clen = -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    long long got = (long long)d->received;
    ic_status s = IC_OK;
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
        char *eff = NULL;
        curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
        if (eff && strcmp(eff, url))
            s = ic_seterr(IC_ERR_IO, "downloading %s failed: HTTP %ld (redirected to %s)", url,
                          code, eff);
        else
            s = ic_seterr(IC_ERR_IO, "downloading %s failed: HTTP %ld", url, code);
    } else if (rc == CURLE_WRITE_ERROR && d->write_errno) {
        s = ic_seterr(IC_ERR_IO, "cannot write %s while downloading %s: %s", d->af.tmp, url,
                      strerror(d->write_errno));
    } else if (rc == CURLE_WRITE_ERROR && d->md_failed) {
        s = ic_seterr(IC_ERR_INTERNAL, "OpenSSL: md5 update failed while downloading %s", url);
    } else if (rc == CURLE_PARTIAL_FILE || (rc == CURLE_OK && clen >= 0 && got != clen)) {
        if (clen >= 0)
            s = ic_seterr(IC_ERR_IO,
                          "download of %s stopped after %lld of %lld bytes (connection closed)",
                          url, got, (long long)clen);
        else
            s = ic_seterr(IC_ERR_IO, "download of %s stopped after %lld bytes: %s", url, got, why);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        s = ic_seterr(IC_ERR_IO,
                      "download of %s timed out after %lld bytes: %s (limits: connect %ld s, "
                      "below %ld bytes/s for %ld s; IMGCLASS_DOWNLOAD_TIMEOUT changes them)",
                      url, got, why, connect_s, LOW_SPEED_BYTES, stall_s);
    } else if (rc != CURLE_OK && got > 0) {
        s = ic_seterr(IC_ERR_IO, "downloading %s failed after %lld bytes: %s", url, got, why);
    } else if (rc != CURLE_OK) {
        s = ic_seterr(IC_ERR_IO, "downloading %s failed: %s", url, why);
    } else if (got == 0) {
        s = ic_seterr(IC_ERR_FORMAT, "download of %s for %s is empty", url, file);
    }
    curl_easy_cleanup(c);
    return s;
}

static int valid_md5(const char *m)
{
    if (strlen(m) != 32)
        return 0;
    for (int i = 0; i < 32; i++)
        if (!isxdigit((unsigned char)m[i]))
            return 0;
    return 1;
}

static int same_md5(const char *a, const char *b)
{
    for (int i = 0; i < 32; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return 0;
    return 1;
}

static ic_status copy_out(const char *path, char *out, size_t size)
{
    if (!out)
        return IC_OK;
    if (!size || strlen(path) >= size)
        return ic_seterr(IC_ERR_INVALID, "path buffer of %zu bytes too small for %s", size, path);
    memcpy(out, path, strlen(path) + 1);
    return IC_OK;
}

ic_status ic__weights_fetch_file(const char *file, const char *url, const char *md5,
                                 ic_progress_fn progress, void *user, char *path_out,
                                 size_t path_size)
{
    if (!file || !*file || strchr(file, '/') || file[0] == '.')
        return ic_seterr(IC_ERR_INVALID, "weights file name '%s' must be a plain file name",
                         file ? file : "(null)");
    if (!url || !*url)
        return ic_seterr(IC_ERR_INVALID, "no URL to download %s from", file);
    if (md5 && !valid_md5(md5))
        return ic_seterr(IC_ERR_INVALID, "md5 '%s' for %s is not 32 hex digits", md5, file);

    char dir[4096], path[4096], hex[33] = "";
    ic_status s = ic_weights_cache_dir(dir, sizeof dir);
    if (s)
        return s;
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return ic_seterr(IC_ERR_INVALID, "cache path for %s too long", file);

    /* Cached: verify, use. */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        if (!md5)
            return copy_out(path, path_out, path_size);
        if (ic__md5_file(path, hex) == IC_OK && same_md5(hex, md5))
            return copy_out(path, path_out, path_size);
        ic__log(2, "cached %s has md5 %s, expected %s: downloading it again", path,
                hex[0] ? hex : "(unreadable)", md5);
    }

    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK)
        return ic_seterr(IC_ERR_INTERNAL, "curl_global_init failed: %s",
                         curl_easy_strerror(g_curl_init_rc));

    dl d;
    memset(&d, 0, sizeof d);
    d.progress = progress;
    d.user = user;
    d.last_done = -1;
    if ((s = ic__atomic_begin(&d.af, path, 1)))
        return s;
    d.md = EVP_MD_CTX_new();
    if (!d.md) {
        ic__atomic_abort(&d.af);
        return ic_seterr(IC_ERR_NOMEM, "OpenSSL: cannot create an md5 context");
    }
    if (EVP_DigestInit_ex(d.md, EVP_md5(), NULL) != 1) {
        s = ic_seterr(IC_ERR_INTERNAL, "OpenSSL: md5 is not available");
        goto fail;
    }
    ic__log(1, "downloading %s to %s", url, path);
    if ((s = transfer(&d, url, file)))
        goto fail;
    if ((s = md5_final(d.md, hex)))
        goto fail;
    if (md5 && !same_md5(hex, md5)) {
        s = ic_seterr(IC_ERR_FORMAT,
                      "md5 of %s is %s, expected %s (downloaded %lld bytes from %s; not kept)",
                      file, hex, md5, (long long)d.received, url);
        goto fail;
    }
    if ((s = ic__atomic_commit(&d.af)))
        goto fail;
    EVP_MD_CTX_free(d.md);
    if (progress && (d.last_done != d.received || d.last_total != d.received))
        report(&d, d.received, d.received);
    return copy_out(path, path_out, path_size);
fail:
    ic__atomic_abort(&d.af);
    EVP_MD_CTX_free(d.md);
    return s;
}

ic_status ic_weights_fetch(const char *name, const char *url_override, ic_progress_fn progress,
                           void *user, char *path_out, size_t path_size)
{
    const ic_weights_info *w = ic_weights_find(name);
    if (!w)
        return ic_seterr(IC_ERR_NOT_FOUND, "unknown weights '%s'", name ? name : "(null)");
    const char *base = getenv("IMGCLASS_WEIGHTS_URL_BASE");
    char url[4096];
    if (url_override && *url_override) {
        snprintf(url, sizeof url, "%s", url_override);
    } else if (base && *base) {
        size_t n = strlen(base);
        if (snprintf(url, sizeof url, "%s%s%s", base, base[n - 1] == '/' ? "" : "/", w->file) >=
            (int)sizeof url)
            return ic_seterr(IC_ERR_INVALID, "IMGCLASS_WEIGHTS_URL_BASE is too long");
    } else {
        snprintf(url, sizeof url, "%s", w->url);
    }
    return ic__weights_fetch_file(w->file, url, w->md5, progress, user, path_out, path_size);
}
