/* cmd_weights.c - `imgclass weights list|fetch|path`: the Keras Applications weight files
 * imgclass knows, downloading them into the cache (md5-checked, atomic) and finding them. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static void help(void)
{
    printf("usage: imgclass weights list [PATTERN]\n"
           "       imgclass weights fetch NAME... [--url URL]\n"
           "       imgclass weights path NAME\n"
           "\n"
           "Pretrained ImageNet weights, the files keras.applications downloads (same file\n"
           "names, URLs and md5 checks). They are cached in $IMGCLASS_HOME, else\n"
           "$XDG_CACHE_HOME/imgclass, else ~/.cache/imgclass.\n"
           "\n"
           "  list [PATTERN]   known weights (names containing PATTERN): whether cached (and\n"
           "                   the size), whether Keras knows an md5 for them, the file name\n"
           "  fetch NAME...    download into the cache unless already there; the md5 is checked\n"
           "                   before the file gets its name, so a failed or corrupt download\n"
           "                   leaves nothing behind. A cached file with a wrong md5 is\n"
           "                   downloaded again. Prints the cached path.\n"
           "  --url URL        fetch from URL instead (a mirror; one NAME only)\n"
           "  path NAME        print the cached path (fails if not cached)\n"
           "\n"
           "environment:\n"
           "  IMGCLASS_HOME               cache directory\n"
           "  IMGCLASS_WEIGHTS_URL_BASE   mirror: files are fetched from BASE/<file name>\n"
           "  IMGCLASS_DOWNLOAD_TIMEOUT   seconds to connect and to tolerate a stalled\n"
           "                              (< 1 KB/s) transfer (default 30 and 60)\n"
           "\n"
           "examples:\n"
           "  imgclass weights list notop\n"
           "  imgclass weights fetch vgg16_notop\n"
           "  imgclass weights fetch mobilenet_v2_1.0_224_notop --url https://mirror.example/w.h5\n"
           "  imgclass weights path vgg16_notop\n");
}

static double mb(double bytes)
{
    return bytes / (1024.0 * 1024.0);
}

static const ic_weights_info *known(const char *cmd, const char *name)
{
    const ic_weights_info *w = ic_weights_find(name);
    if (!w)
        fprintf(stderr, "imgclass %s: unknown weights '%s' (see 'imgclass weights list')\n", cmd,
                name);
    return w;
}

static int cached_size(const char *dir, const ic_weights_info *w, long long *size)
{
    char path[8192];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, w->file);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    *size = (long long)st.st_size;
    return 1;
}

static int cmd_list(int argc, char **argv)
{
    const char *pattern = NULL;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-')
            return ic_cli_usage_error("weights", "unknown option for list: %s", argv[i]);
        if (pattern)
            return ic_cli_usage_error("weights", "list takes one PATTERN");
        pattern = argv[i];
    }
    char dir[4096];
    int have_dir = ic_weights_cache_dir(dir, sizeof dir) == IC_OK;
    if (!have_dir)
        fprintf(stderr, "imgclass weights: %s\n", ic_errmsg());
    printf("%-28s %-14s %-4s %s\n", "name", "cached", "md5", "file");
    int shown = 0;
    for (int i = 0; i < ic_weights_count(); i++) {
        const ic_weights_info *w = ic_weights_get(i);
        if (pattern && !strstr(w->name, pattern))
            continue;
        char cached[32] = "no";
        long long size;
        if (!have_dir)
            snprintf(cached, sizeof cached, "?");
        else if (cached_size(dir, w, &size))
            snprintf(cached, sizeof cached, "yes %.1f MB", mb((double)size));
        printf("%-28s %-14s %-4s %s\n", w->name, cached, w->md5 ? "yes" : "no", w->file);
        shown++;
    }
    if (pattern && !shown) {
        fprintf(stderr, "imgclass weights: no known weights match '%s'\n", pattern);
        return 1;
    }
    if (have_dir)
        printf("cache: %s\n", dir);
    return 0;
}

typedef struct progress {
    const char *name;
    int tty, calls, last_step;
    int64_t total;
} progress;

static void on_progress(int64_t done, int64_t total, void *user)
{
    progress *p = user;
    p->calls++;
    p->total = total;
    if (p->tty) {
        if (total > 0)
            fprintf(stderr, "\r%s: %3d%% (%.1f of %.1f MB)   ", p->name, (int)(100 * done / total),
                    mb((double)done), mb((double)total));
        else
            fprintf(stderr, "\r%s: %.1f MB   ", p->name, mb((double)done));
        fflush(stderr);
        return;
    }
    /* not a terminal: a line per quarter (or per 50 MB when the length is unknown) */
    int step = total > 0 ? (int)(4 * done / total) : (int)(done / (50 << 20));
    if (step == p->last_step)
        return;
    p->last_step = step;
    if (total > 0)
        fprintf(stderr, "%s: %d%% (%.1f of %.1f MB)\n", p->name, 25 * step, mb((double)done),
                mb((double)total));
    else
        fprintf(stderr, "%s: %.1f MB\n", p->name, mb((double)done));
}

static int fetch_one(const char *name, const char *url)
{
    const char *cmd = "weights fetch";
    const ic_weights_info *w = known(cmd, name);
    if (!w)
        return 1;
    char dir[4096], path[4096];
    long long size;
    int was_cached = ic_weights_cache_dir(dir, sizeof dir) == IC_OK && cached_size(dir, w, &size);
    progress p = {name, isatty(2), 0, 0, 0};
    ic_status s = ic_weights_fetch(name, url, on_progress, &p, path, sizeof path);
    if (p.tty && p.calls)
        fputc('\n', stderr);
    if (s)
        return ic_cli_fail(cmd, s);
    if (was_cached && !p.calls)
        fprintf(stderr, "%s: already cached (%s)\n", name,
                w->md5 ? "md5 verified" : "Keras knows no md5 for it: not verified");
    else
        fprintf(stderr, "%s: downloaded%s\n", name, w->md5 ? ", md5 verified" : "");
    printf("%s\n", path);
    return 0;
}

static int cmd_fetch(int argc, char **argv)
{
    const char *url = NULL;
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--url")) {
            if (i + 1 >= argc)
                return ic_cli_usage_error("weights", "--url needs a URL");
            url = argv[++i];
        } else if (argv[i][0] == '-') {
            return ic_cli_usage_error("weights", "unknown option for fetch: %s", argv[i]);
        } else {
            argv[n++] = argv[i];
        }
    }
    if (!n)
        return ic_cli_usage_error("weights", "fetch needs a NAME");
    if (url && n > 1)
        return ic_cli_usage_error("weights", "--url goes with one NAME only");
    for (int i = 0; i < n; i++)
        if (!ic_weights_find(argv[i])) {
            known("weights fetch", argv[i]);
            return 1;
        }
    for (int i = 0; i < n; i++) {
        int rc = fetch_one(argv[i], url);
        if (rc)
            return rc;
    }
    return 0;
}

static int cmd_path(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-')
        return ic_cli_usage_error("weights", "path needs exactly one NAME");
    const ic_weights_info *w = known("weights path", argv[0]);
    if (!w)
        return 1;
    char dir[4096];
    long long size;
    ic_status s = ic_weights_cache_dir(dir, sizeof dir);
    if (s)
        return ic_cli_fail("weights path", s);
    if (!cached_size(dir, w, &size)) {
        fprintf(stderr,
                "imgclass weights path: %s not cached; run imgclass weights fetch %s (cache: %s)\n",
                w->name, w->name, dir);
        return 1;
    }
    printf("%s/%s\n", dir, w->file);
    return 0;
}

int ic_cli_weights(int argc, char **argv)
{
    /* common options (--threads, --backend) are accepted anywhere and ignored here */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help();
            return 0;
        }
        int r = ic_cli_common_opt("weights", argc, argv, &i);
        if (r < 0)
            return 2;
        if (r == 0)
            argv[n++] = (char *)a;
    }
    if (n < 2)
        return ic_cli_usage_error("weights", "needs list, fetch NAME or path NAME");
    const char *sub = argv[1];
    if (!strcmp(sub, "list"))
        return cmd_list(n - 2, argv + 2);
    if (!strcmp(sub, "fetch"))
        return cmd_fetch(n - 2, argv + 2);
    if (!strcmp(sub, "path"))
        return cmd_path(n - 2, argv + 2);
    return ic_cli_usage_error("weights", "unknown subcommand '%s' (list, fetch, path)", sub);
}
