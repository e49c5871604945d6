/* test_image_files.c - ic_image_files (data.h): which files of a tree count as images
 * (extensions in any case; hidden entries, other files and links to folders left out; links
 * to files followed; folders named like images walked), their byte order, an empty folder
 * and a missing one. */
#include <unistd.h>

#include "harness.h"

static char g_root[256];

static const char *P(const char *rel)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_root, rel);
    return buf[k];
}

static void touch(const char *rel)
{
    FILE *f = fopen(P(rel), "w");
    if (f) {
        fputs("x", f);
        fclose(f);
    }
}

int main(void)
{
    snprintf(g_root, sizeof g_root, "/tmp/ic_test_image_files_XXXXXX");
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 1;
    }
    const char *dirs[] = {"d", "d/sub", "d/.hidden", "d/dir.png", "other", "empty"};
    for (int i = 0; i < 6; i++)
        mkdir(P(dirs[i]), 0777);
    const char *files[] = {"d/b.png", "d/A.JPG", "d/sub/c.jpeg", "d/.hidden/x.png", "d/.y.png",
                           "d/notes.txt", "d/png", "d/dir.png/e.Png", "other/z.png"};
    for (int i = 0; i < 9; i++)
        touch(files[i]);
    CHECK(symlink(P("other/z.png"), P("d/link.png")) == 0);
    CHECK(symlink(P("other"), P("d/linkdir")) == 0);

    char **v;
    int64_t n;
    OK(ic_image_files(P("d"), &v, &n));
    const char *want[] = {"d/A.JPG", "d/b.png", "d/dir.png/e.Png", "d/link.png", "d/sub/c.jpeg"};
    CHECKF(n == 5, "%lld files", (long long)n);
    for (int i = 0; i < 5 && i < n; i++)
        CHECKF(!strcmp(v[i], P(want[i])), "%d: %s", i, v[i]);
    ic_image_files_free(v, n);

    /* a trailing slash gives no doubled one */
    char slash[1100];
    snprintf(slash, sizeof slash, "%s/", P("d/sub"));
    OK(ic_image_files(slash, &v, &n));
    CHECK(n == 1 && !strcmp(v[0], P("d/sub/c.jpeg")));
    ic_image_files_free(v, n);

    OK(ic_image_files(P("empty"), &v, &n));
    CHECK(n == 0 && v == NULL);
    EXPECT_ERR(ic_image_files(P("missing"), &v, &n), IC_ERR_NOT_FOUND,
               "missing: No such file or directory");
    CHECK(n == 0 && v == NULL);
    EXPECT_ERR(ic_image_files(NULL, &v, &n), IC_ERR_INVALID, "no folder given");

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_root);
    return t_finish();
}
