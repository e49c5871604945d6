/* fixture_gen.c - writes a tiny image dataset for the CLI tests (built as ic_fixture_gen).
 *
 *   ic_fixture_gen DIR [--size N] [--train N] [--val N] [--test N] [--classes K]
 *                      [--bad N] [--seed S]
 *
 * DIR/{train,validation,test}/<class>/<class>.<i>.png: N x N RGB PNGs (default 48 px,
 * 12 / 6 / 6 images per class, 2 classes). Class 0 "dark" is mostly black, class 1
 * "light" mostly white, further classes ("mid2", ...) mid grey tones; every pixel gets a
 * little noise and each image a random bright or dark square, so the classes are easy but
 * not trivially constant. --bad N adds N truncated PNGs to train/dark (they pass the scan
 * and fail to decode: the iterator replaces them). Deterministic for a seed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "imgclass/imgclass.h"

static uint64_t g_rng = 88172645463325252ull;

static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 11);
}

static int mkdirs(const char *p)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", p);
    for (char *c = buf + 1; *c; c++)
        if (*c == '/') {
            *c = 0;
            mkdir(buf, 0755);
            *c = '/';
        }
    return mkdir(buf, 0755) == 0 || errno == EEXIST;
}

static const char *class_name(int k, char *buf, size_t size)
{
    if (k == 0)
        return "dark";
    if (k == 1)
        return "light";
    snprintf(buf, size, "mid%d", k);
    return buf;
}

static int write_image(const char *path, int n, int cls, int classes)
{
    ic_image img = {n, n, 3, malloc((size_t)n * n * 3)};
    if (!img.data)
        return -1;
    int base = cls == 0 ? 25 : cls == 1 ? 230 : 60 + (int)(140.0 * (cls - 1) / (classes - 1));
    for (int i = 0; i < n * n * 3; i++) {
        int v = base + (int)(rnd() % 41) - 20;
        img.data[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    int sq = n / 4, y0 = (int)(rnd() % (unsigned)(n - sq)), x0 = (int)(rnd() % (unsigned)(n - sq));
    uint8_t v = (uint8_t)(rnd() % 2 ? 128 : 90);
    for (int y = y0; y < y0 + sq; y++)
        for (int x = x0; x < x0 + sq; x++)
            for (int c = 0; c < 3; c++)
                img.data[((size_t)y * n + x) * 3 + c] = v;
    ic_status s = ic_image_save_png(&img, path);
    free(img.data);
    if (s)
        fprintf(stderr, "ic_fixture_gen: %s: %s\n", path, ic_errmsg());
    return s ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ic_fixture_gen DIR [--size N] [--train N] [--val N] [--test N] "
                        "[--classes K] [--bad N] [--seed S]\n");
        return 2;
    }
    const char *dir = argv[1];
    int size = 48, counts[3] = {12, 6, 6}, classes = 2, bad = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--size"))
            size = v;
        else if (!strcmp(argv[i], "--train"))
            counts[0] = v;
        else if (!strcmp(argv[i], "--val"))
            counts[1] = v;
        else if (!strcmp(argv[i], "--test"))
            counts[2] = v;
        else if (!strcmp(argv[i], "--classes"))
            classes = v;
        else if (!strcmp(argv[i], "--bad"))
            bad = v;
        else if (!strcmp(argv[i], "--seed"))
            g_rng ^= (uint64_t)strtoull(argv[i + 1], NULL, 10) * 0x9E3779B97F4A7C15ull;
        else {
            fprintf(stderr, "ic_fixture_gen: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (size < 8 || classes < 2 || classes > 9) {
        fprintf(stderr, "ic_fixture_gen: need --size >= 8 and 2..9 classes\n");
        return 2;
    }
    static const char *const splits[3] = {"train", "validation", "test"};
    char path[4096], nb[16];
    for (int sp = 0; sp < 3; sp++)
        for (int k = 0; k < classes; k++) {
            const char *cn = class_name(k, nb, sizeof nb);
            snprintf(path, sizeof path, "%s/%s/%s", dir, splits[sp], cn);
            mkdirs(path);
            for (int i = 0; i < counts[sp]; i++) {
                snprintf(path, sizeof path, "%s/%s/%s/%s.%d.png", dir, splits[sp], cn, cn, i);
                if (write_image(path, size, k, classes))
                    return 1;
            }
        }
    for (int i = 0; i < bad; i++) {
        /* a PNG signature and the start of an IHDR chunk, then nothing */
        static const unsigned char head[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,
                                             0,    0,   13,  'I', 'H',  'D',  'R',  0,    0};
        snprintf(path, sizeof path, "%s/train/dark/zz_bad.%d.png", dir, i);
        FILE *fp = fopen(path, "wb");
        if (!fp || fwrite(head, 1, sizeof head, fp) != sizeof head || fclose(fp)) {
            fprintf(stderr, "ic_fixture_gen: cannot write %s\n", path);
            return 1;
        }
    }
    return 0;
}
