/* progress.c - Keras's Progbar for the training commands (see progress.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define BAR_WIDTH 30 /* Keras's Progbar width */

double ic_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ic_cli_progress_init(ic_cli_progress *p, FILE *fp, int tty)
{
    memset(p, 0, sizeof *p);
    p->fp = fp;
    p->tty = tty < 0 ? isatty(fileno(fp)) : tty;
}

void ic_cli_progress_epoch(ic_cli_progress *p, int epoch, int epochs, int64_t steps, int64_t first)
{
    p->target = steps;
    p->first = first;
    p->t0 = ic_cli_now();
    p->last_draw = 0;
    p->last_len = 0;
    fprintf(p->fp, "Epoch %d/%d\n", epoch, epochs);
    fflush(p->fp);
}

/* " 37/100 [==========>...................]" */
static int bar(char *buf, size_t size, int64_t cur, int64_t target)
{
    int digits = snprintf(NULL, 0, "%lld", (long long)target);
    int n = snprintf(buf, size, "%*lld/%lld [", digits, (long long)cur, (long long)target);
    int w = target > 0 ? (int)(BAR_WIDTH * (double)cur / (double)target) : BAR_WIDTH;
    if (w > BAR_WIDTH)
        w = BAR_WIDTH;
    for (int i = 0; i < BAR_WIDTH && n + 2 < (int)size; i++) {
        char c = '.';
        if (i < w - 1 || (i == w - 1 && cur >= target))
            c = '=';
        else if (i == w - 1)
            c = '>';
        buf[n++] = c;
    }
    buf[n++] = ']';
    buf[n] = '\0';
    return n;
}

/* " - loss: 0.4321" (Keras: %.4f, %.4e for |v| <= 1e-3). */
static int value(char *buf, size_t size, const char *name, double v)
{
    if (fabs(v) > 1e-3 || isnan(v))
        return snprintf(buf, size, " - %s: %.4f", name, v);
    return snprintf(buf, size, " - %s: %.4e", name, v);
}

static double per_step(const ic_cli_progress *p, int64_t cur, double now)
{
    int64_t done = cur - p->first;
    return done > 0 ? (now - p->t0) / (double)done : 0.0;
}

void ic_cli_progress_step(ic_cli_progress *p, int64_t step, double loss, double acc)
{
    if (!p->tty)
        return;
    double now = ic_cli_now();
    if (step < p->target && now - p->last_draw < 0.1)
        return;
    p->last_draw = now;
    char line[512];
    int n = bar(line, sizeof line, step, p->target);
    if (step < p->target) {
        double eta = per_step(p, step, now) * (double)(p->target - step);
        long e = (long)eta;
        if (eta > 3600)
            n += snprintf(line + n, sizeof line - n, " - ETA: %ld:%02ld:%02ld", e / 3600,
                          (e % 3600) / 60, e % 60);
        else if (eta > 60)
            n += snprintf(line + n, sizeof line - n, " - ETA: %ld:%02ld", e / 60, e % 60);
        else
            n += snprintf(line + n, sizeof line - n, " - ETA: %lds", e);
    } else {
        n += snprintf(line + n, sizeof line - n, " - %.0fs", now - p->t0);
    }
    n += value(line + n, sizeof line - n, "loss", loss);
    n += value(line + n, sizeof line - n, "acc", acc);
    int pad = p->last_len > n ? p->last_len - n : 0;
    fprintf(p->fp, "\r%s%*s", line, pad, "");
    p->last_len = n;
    fflush(p->fp);
}

void ic_cli_progress_end(ic_cli_progress *p, double loss, double acc, double val_loss,
                         double val_acc, int64_t skipped)
{
    double now = ic_cli_now();
    char line[512];
    int n = bar(line, sizeof line, p->target, p->target);
    n += snprintf(line + n, sizeof line - n, " - %.0fs", now - p->t0);
    double t = per_step(p, p->target, now);
    if (t >= 1)
        n += snprintf(line + n, sizeof line - n, " %.0fs/step", t);
    else if (t >= 1e-3)
        n += snprintf(line + n, sizeof line - n, " %.0fms/step", t * 1e3);
    else
        n += snprintf(line + n, sizeof line - n, " %.0fus/step", t * 1e6);
    n += value(line + n, sizeof line - n, "loss", loss);
    n += value(line + n, sizeof line - n, "acc", acc);
    if (!isnan(val_loss))
        n += value(line + n, sizeof line - n, "val_loss", val_loss);
    if (!isnan(val_acc))
        n += value(line + n, sizeof line - n, "val_acc", val_acc);
    if (skipped > 0)
        n += snprintf(line + n, sizeof line - n, " - skipped: %lld bad file%s", (long long)skipped,
                      skipped == 1 ? "" : "s");
    if (p->tty) {
        int pad = p->last_len > n ? p->last_len - n : 0;
        fprintf(p->fp, "\r%s%*s\n", line, pad, "");
    } else {
        fprintf(p->fp, "%s\n", line);
    }
    p->last_len = 0;
    fflush(p->fp);
}

void ic_cli_progress_break(ic_cli_progress *p)
{
    if (p->tty && p->last_len > 0) {
        fputc('\n', p->fp);
        fflush(p->fp);
    }
    p->last_len = 0;
}
