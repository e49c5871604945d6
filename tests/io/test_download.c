/* test_download.c - pretrained-weights registry, cache directory and downloads, against a
 * tiny HTTP/1.1 server on 127.0.0.1 (a thread in this test; no network needed).
 *
 * Checks: Keras's file names / md5s in the registry; cache dir from IMGCLASS_HOME,
 * XDG_CACHE_HOME, HOME (created); a good download (content, md5, progress up to the final
 * total); a cached file is used without a request; a corrupted cached file is downloaded
 * again; wrong md5, HTTP 404, a dropped connection, a stalled transfer and a dead port all
 * fail with messages naming what matters and leave nothing in the cache (no temp file);
 * redirects are followed; unknown lengths work; url_override and IMGCLASS_WEIGHTS_URL_BASE;
 * an unusable cache dir fails clearly. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "harness.h"
#include "io/io_impl.h"

#define BODY_SIZE (300 * 1024)
#define DROP_AFTER 10240

static unsigned char g_body[BODY_SIZE];
static char g_body_md5[33];

/* ---- the server ---- */

typedef struct server {
    int fd, port;
    pthread_t thread;
    atomic_int requests;
    atomic_int stop;
    pthread_mutex_t mu;
    char last_path[512];
} server;

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        c += w, n -= (size_t)w;
    }
    return 0;
}

static void send_head(int fd, const char *status, long len, const char *extra)
{
    char h[512];
    int n = snprintf(h, sizeof h, "HTTP/1.1 %s\r\nConnection: close\r\n%s", status, extra);
    if (len >= 0)
        n += snprintf(h + n, sizeof h - (size_t)n, "Content-Length: %ld\r\n", len);
    snprintf(h + n, sizeof h - (size_t)n, "\r\n");
    send_all(fd, h, strlen(h));
}

static void handle(server *sv, int fd)
{
    char req[8192];
    size_t n = 0;
    while (n < sizeof req - 1) {
        ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
        if (r <= 0)
            return;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    char path[512] = "";
    sscanf(req, "GET %511s", path);
    atomic_fetch_add(&sv->requests, 1);
    pthread_mutex_lock(&sv->mu);
    snprintf(sv->last_path, sizeof sv->last_path, "%s", path);
    pthread_mutex_unlock(&sv->mu);

    if (!strncmp(path, "/ok", 3)) {
        send_head(fd, "200 OK", BODY_SIZE, "Content-Type: application/octet-stream\r\n");
        send_all(fd, g_body, BODY_SIZE);
    } else if (!strcmp(path, "/nolen")) {
        send_head(fd, "200 OK", -1, "");
        send_all(fd, g_body, BODY_SIZE);
    } else if (!strcmp(path, "/redirect")) {
        send_head(fd, "302 Found", 0, "Location: /ok\r\n");
    } else if (!strcmp(path, "/drop")) {
        send_head(fd, "200 OK", BODY_SIZE, "");
        send_all(fd, g_body, DROP_AFTER);
    } else if (!strcmp(path, "/slow")) {
        send_head(fd, "200 OK", BODY_SIZE, "");
        send_all(fd, g_body, 100);
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 8000); /* until the client gives up (closes) */
    } else {
        const char *msg = "not found\n";
        send_head(fd, "404 Not Found", (long)strlen(msg), "");
        send_all(fd, msg, strlen(msg));
    }
    shutdown(fd, SHUT_WR);
}

static void *serve(void *p)
{
    server *sv = p;
    while (!atomic_load(&sv->stop)) {
        struct pollfd pf = {sv->fd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int c = accept(sv->fd, NULL, NULL);
        if (c < 0)
            continue;
        handle(sv, c);
        close(c);
    }
    return NULL;
}

static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("socket");
        exit(1);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void server_start(server *sv)
{
    memset(sv, 0, sizeof *sv);
    pthread_mutex_init(&sv->mu, NULL);
    sv->fd = listen_local(&sv->port);
    if (listen(sv->fd, 8) != 0) {
        perror("listen");
        exit(1);
    }
    pthread_create(&sv->thread, NULL, serve, sv);
}

static void server_stop(server *sv)
{
    atomic_store(&sv->stop, 1);
    pthread_join(sv->thread, NULL);
    close(sv->fd);
    pthread_mutex_destroy(&sv->mu);
}

/* ---- helpers ---- */

typedef struct prog {
    int calls, monotonic;
    int64_t done, total;
} prog;

static void on_progress(int64_t done, int64_t total, void *user)
{
    prog *p = user;
    if (p->calls && done < p->done)
        p->monotonic = 0;
    p->calls++;
    p->done = done;
    p->total = total;
}

/* The cache dir's entries, sorted, space-separated ("" when empty). */
static const char *listing(const char *dir)
{
    static char out[4096];
    char names[32][256];
    int n = 0;
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return "(no dir)";
    struct dirent *e;
    while ((e = readdir(d)) && n < 32)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(names[n++], 256, "%s", e->d_name);
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[256];
            memcpy(t, names[j], 256);
            memcpy(names[j], names[j - 1], 256);
            memcpy(names[j - 1], t, 256);
        }
    for (int i = 0; i < n; i++) {
        strcat(out, i ? " " : "");
        strcat(out, names[i]);
    }
    return out;
}

static int file_equals_body(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    static unsigned char buf[BODY_SIZE + 1];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    return n == BODY_SIZE && !memcmp(buf, g_body, BODY_SIZE);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    fputs(text, fp);
    fclose(fp);
}

static void md5_hex(const void *p, size_t n, char hex[33])
{
    unsigned char d[16];
    unsigned len = 0;
    EVP_Digest(p, n, d, &len, EVP_md5(), NULL);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- tests ---- */

static void test_registry(void)
{
    const ic_weights_info *w = ic_weights_find("vgg16_notop");
    CHECK(w != NULL);
    if (w) {
        CHECK(!strcmp(w->md5, "6d6bbae143d832006294945121d1f1fc"));
        CHECK(!strcmp(w->file, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"));
        CHECK(!strcmp(w->url, "https://github.com/fchollet/deep-learning-models/releases/"
                              "download/v0.1/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"));
    }
    w = ic_weights_find("vgg16");
    CHECK(w && !strcmp(w->md5, "64373286793e3c8b2b4e3219cbf3544b"));
    w = ic_weights_find("vgg19_notop");
    CHECK(w && !strcmp(w->md5, "253f8cb515780f3b799900260a226db6"));
    w = ic_weights_find("resnet50_notop");
    CHECK(w && !strcmp(w->md5, "a268eb855778b3df3c7506639542a6af") &&
          strstr(w->url, "/v0.2/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"));
    w = ic_weights_find("mobilenet_v2_1.0_224_notop");
    CHECK(w && !w->md5 &&
          !strcmp(w->url, "https://github.com/JonathanCMitchell/mobilenet_v2_keras/releases/"
                          "download/v1.1/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_"
                          "224_no_top.h5"));
    w = ic_weights_find("mobilenet_v2_0.35_96_notop");
    CHECK(w &&
          !strcmp(w->file, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"));
    CHECK(ic_weights_find("mobilenet_v2_0.5_160_notop") != NULL); /* str(0.50) == "0.5" */
    CHECK(ic_weights_find("nope") == NULL && ic_weights_find(NULL) == NULL);
    CHECK(ic_weights_get(-1) == NULL && ic_weights_get(ic_weights_count()) == NULL);
    int n = ic_weights_count(), bad = 0;
    CHECK(n >= 6 + 30);
    for (int i = 0; i < n; i++) {
        const ic_weights_info *a = ic_weights_get(i);
        if (!a || ic_weights_find(a->name) != a || !strstr(a->url, a->file) ||
            (a->md5 && strlen(a->md5) != 32))
            bad++;
        for (int j = 0; j < i; j++)
            if (!strcmp(ic_weights_get(j)->file, a->file))
                bad++;
    }
    CHECKF(bad == 0, "%d registry entries inconsistent", bad);

    char hex[33];
    char tmp[] = "/tmp/ic_md5_XXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0 && write(fd, "abc", 3) == 3);
    close(fd);
    OK(ic__md5_file(tmp, hex));
    CHECK(!strcmp(hex, "900150983cd24fb0d6963f7d28e17f72")); /* RFC 1321 */
    unlink(tmp);
}

static void test_cache_dir(const char *root)
{
    char want[8192], got[4096];
    struct stat st;
    snprintf(want, sizeof want, "%s/home/a/b", root);
    setenv("IMGCLASS_HOME", want, 1);
    OK(ic_weights_cache_dir(got, sizeof got));
    CHECK(!strcmp(got, want) && stat(want, &st) == 0 && S_ISDIR(st.st_mode));

    unsetenv("IMGCLASS_HOME");
    snprintf(want, sizeof want, "%s/xdg", root);
    setenv("XDG_CACHE_HOME", want, 1);
    OK(ic_weights_cache_dir(got, sizeof got));
    snprintf(want, sizeof want, "%s/xdg/imgclass", root);
    CHECKF(!strcmp(got, want) && stat(want, &st) == 0, "%s", got);

    unsetenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char saved_home[4096];
    snprintf(saved_home, sizeof saved_home, "%s", home ? home : "");
    snprintf(want, sizeof want, "%s/user", root);
    setenv("HOME", want, 1);
    setenv("IMGCLASS_HOME", "", 1); /* empty = unset */
    OK(ic_weights_cache_dir(got, sizeof got));
    snprintf(want, sizeof want, "%s/user/.cache/imgclass", root);
    CHECKF(!strcmp(got, want) && stat(want, &st) == 0, "%s", got);
    if (home)
        setenv("HOME", saved_home, 1);
    else
        unsetenv("HOME");

    /* unusable: below a regular file, or a regular file itself */
    char file[1024];
    snprintf(file, sizeof file, "%s/afile", root);
    write_file(file, "x");
    snprintf(want, sizeof want, "%s/sub", file);
    setenv("IMGCLASS_HOME", want, 1);
    EXPECT_ERR(ic_weights_cache_dir(got, sizeof got), IC_ERR_IO, want);
    CHECKF(strstr(ic_errmsg(), "cannot create weights cache directory"), "%s", ic_errmsg());
    EXPECT_ERR(ic__weights_fetch_file("w.h5", "http://127.0.0.1:9/x", NULL, NULL, NULL, NULL, 0),
               IC_ERR_IO, "IMGCLASS_HOME");
    setenv("IMGCLASS_HOME", file, 1);
    EXPECT_ERR(ic_weights_cache_dir(got, sizeof got), IC_ERR_IO, "is not a directory");
    if (geteuid() != 0) { /* root writes anywhere */
        snprintf(want, sizeof want, "%s/ro", root);
        mkdir(want, 0555);
        setenv("IMGCLASS_HOME", want, 1);
        EXPECT_ERR(ic_weights_cache_dir(got, sizeof got), IC_ERR_IO, "is not writable");
        chmod(want, 0755);
    }
}

static void test_downloads(const char *root)
{
    server sv;
    server_start(&sv);
    char base[64], url[128], dir[1024], path[4096], p2[4096], expect[4096];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", sv.port);
    snprintf(dir, sizeof dir, "%s/cache", root);
    setenv("IMGCLASS_HOME", dir, 1);
    unsetenv("IMGCLASS_WEIGHTS_URL_BASE");

    /* good download */
    prog pr = {0, 1, 0, 0};
    snprintf(url, sizeof url, "%s/ok", base);
    OK(ic__weights_fetch_file("good.h5", url, g_body_md5, on_progress, &pr, path, sizeof path));
    snprintf(expect, sizeof expect, "%s/good.h5", dir);
    CHECKF(!strcmp(path, expect), "%s", path);
    CHECK(file_equals_body(path));
    CHECKF(pr.calls >= 1 && pr.done == BODY_SIZE && pr.total == BODY_SIZE && pr.monotonic,
           "progress calls %d done %lld total %lld", pr.calls, (long long)pr.done,
           (long long)pr.total);
    CHECK(atomic_load(&sv.requests) == 1);
    CHECKF(!strcmp(listing(dir), "good.h5"), "%s", listing(dir));

    /* cached: no request, no progress; upper-case md5 accepted */
    char upper[33];
    for (int i = 0; i < 33; i++)
        upper[i] = (char)(g_body_md5[i] >= 'a' ? g_body_md5[i] - 32 : g_body_md5[i]);
    prog pr2 = {0, 1, 0, 0};
    OK(ic__weights_fetch_file("good.h5", url, upper, on_progress, &pr2, p2, sizeof p2));
    CHECK(!strcmp(p2, path) && pr2.calls == 0);
    CHECK(atomic_load(&sv.requests) == 1);

    /* cached but corrupted: downloaded again */
    write_file(path, "corrupted");
    OK(ic__weights_fetch_file("good.h5", url, g_body_md5, NULL, NULL, NULL, 0));
    CHECK(atomic_load(&sv.requests) == 2);
    CHECK(file_equals_body(path));

    /* wrong md5: both hashes named, nothing kept */
    const char *wrong = "0123456789abcdef0123456789abcdef";
    EXPECT_ERR(ic__weights_fetch_file("bad.h5", url, wrong, NULL, NULL, p2, sizeof p2),
               IC_ERR_FORMAT, "md5 of bad.h5 is ");
    CHECKF(strstr(ic_errmsg(), g_body_md5) && strstr(ic_errmsg(), wrong), "%s", ic_errmsg());
    CHECKF(!strcmp(listing(dir), "good.h5"), "%s", listing(dir));

    /* 404: status and URL named, nothing kept */
    snprintf(url, sizeof url, "%s/missing.h5", base);
    EXPECT_ERR(ic__weights_fetch_file("m.h5", url, NULL, NULL, NULL, NULL, 0), IC_ERR_IO, "404");
    CHECKF(strstr(ic_errmsg(), url), "%s", ic_errmsg());
    CHECKF(!strcmp(listing(dir), "good.h5"), "%s", listing(dir));

    /* dropped mid-transfer: URL and bytes received named, nothing kept */
    snprintf(url, sizeof url, "%s/drop", base);
    EXPECT_ERR(ic__weights_fetch_file("d.h5", url, NULL, NULL, NULL, NULL, 0), IC_ERR_IO, url);
    CHECKF(strstr(ic_errmsg(), "10240 of 307200 bytes"), "%s", ic_errmsg());
    CHECKF(!strcmp(listing(dir), "good.h5"), "%s", listing(dir));

    /* redirect followed */
    int before = atomic_load(&sv.requests);
    snprintf(url, sizeof url, "%s/redirect", base);
    OK(ic__weights_fetch_file("r.h5", url, g_body_md5, NULL, NULL, path, sizeof path));
    CHECK(file_equals_body(path));
    CHECK(atomic_load(&sv.requests) == before + 2);

    /* no Content-Length: progress total 0 until the end, then the final size */
    prog pr3 = {0, 1, 0, 0};
    snprintf(url, sizeof url, "%s/nolen", base);
    OK(ic__weights_fetch_file("n.h5", url, NULL, on_progress, &pr3, path, sizeof path));
    CHECK(file_equals_body(path) && pr3.done == BODY_SIZE && pr3.total == BODY_SIZE);
    CHECKF(!strcmp(listing(dir), "good.h5 n.h5 r.h5"), "%s", listing(dir));

    /* stalled transfer: aborted after IMGCLASS_DOWNLOAD_TIMEOUT seconds */
    setenv("IMGCLASS_DOWNLOAD_TIMEOUT", "1", 1);
    snprintf(url, sizeof url, "%s/slow", base);
    double t0 = now_s();
    EXPECT_ERR(ic__weights_fetch_file("s.h5", url, NULL, NULL, NULL, NULL, 0), IC_ERR_IO,
               "timed out");
    CHECKF(now_s() - t0 < 5, "took %.1f s", now_s() - t0);
    unsetenv("IMGCLASS_DOWNLOAD_TIMEOUT");
    CHECKF(!strcmp(listing(dir), "good.h5 n.h5 r.h5"), "%s", listing(dir));

    /* dead port: fails quickly */
    int dead_port, fd = listen_local(&dead_port);
    close(fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x.h5", dead_port);
    t0 = now_s();
    EXPECT_ERR(ic__weights_fetch_file("x.h5", url, NULL, NULL, NULL, NULL, 0), IC_ERR_IO, url);
    CHECKF(now_s() - t0 < 5, "took %.1f s", now_s() - t0);

    /* bad arguments */
    EXPECT_ERR(ic__weights_fetch_file("../x.h5", url, NULL, NULL, NULL, NULL, 0), IC_ERR_INVALID,
               "plain file name");
    EXPECT_ERR(ic__weights_fetch_file("x.h5", url, "123", NULL, NULL, NULL, 0), IC_ERR_INVALID,
               "32 hex");
    snprintf(url, sizeof url, "%s/ok", base);
    EXPECT_ERR(ic__weights_fetch_file("good.h5", url, NULL, NULL, NULL, p2, 4), IC_ERR_INVALID,
               "too small");

    /* the public entry point: unknown name, url_override, mirror base */
    EXPECT_ERR(ic_weights_fetch("nope", NULL, NULL, NULL, NULL, 0), IC_ERR_NOT_FOUND,
               "unknown weights 'nope'");
    before = atomic_load(&sv.requests);
    EXPECT_ERR(ic_weights_fetch("vgg16_notop", url, NULL, NULL, NULL, 0), IC_ERR_FORMAT,
               "6d6bbae143d832006294945121d1f1fc");
    CHECK(atomic_load(&sv.requests) == before + 1);
    CHECKF(strstr(ic_errmsg(), "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"), "%s",
           ic_errmsg());
    OK(ic_weights_fetch("mobilenet_v2_1.0_224_notop", url, NULL, NULL, path, sizeof path));
    snprintf(expect, sizeof expect,
             "%s/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", dir);
    CHECK(!strcmp(path, expect) && file_equals_body(path));
    before = atomic_load(&sv.requests);
    OK(ic_weights_fetch("mobilenet_v2_1.0_224_notop", NULL, NULL, NULL, p2, sizeof p2));
    CHECK(!strcmp(p2, expect) && atomic_load(&sv.requests) == before); /* cached, no md5 */

    char mirror[128];
    snprintf(mirror, sizeof mirror, "%s/mirror/", base);
    setenv("IMGCLASS_WEIGHTS_URL_BASE", mirror, 1);
    EXPECT_ERR(ic_weights_fetch("vgg19_notop", NULL, NULL, NULL, NULL, 0), IC_ERR_IO, "404");
    pthread_mutex_lock(&sv.mu);
    CHECKF(!strcmp(sv.last_path, "/mirror/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"), "%s",
           sv.last_path);
    pthread_mutex_unlock(&sv.mu);
    unsetenv("IMGCLASS_WEIGHTS_URL_BASE");
    CHECKF(!strcmp(listing(dir), "good.h5 mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_"
                                 "224_no_top.h5 n.h5 r.h5"),
           "%s", listing(dir));

    server_stop(&sv);
}

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            rm_rf(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    unsigned long long s = 12345;
    for (int i = 0; i < BODY_SIZE; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        g_body[i] = (unsigned char)(s >> 56);
    }
    md5_hex(g_body, BODY_SIZE, g_body_md5);

    char root[] = "/tmp/ic_test_download_XXXXXX";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_registry();
    test_cache_dir(root);
    test_downloads(root);
    rm_rf(root);
    return t_finish();
}
