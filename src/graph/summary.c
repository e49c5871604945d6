/* summary.c - Keras's model.summary() table (keras/utils/layer_utils.py print_summary,
 * Keras 2.2.4): columns at fractions .45/.85/1 of the line for sequential-like models,
 * .33/.55/.67/1 with "Connected to" for other graphs. */
#include <stdio.h>
#include <string.h>

#include "graph.h"

/* print_row: each field is cut at its column end and padded to it; a field that runs
 * into the next column loses its last character to a separating space. */
static void print_row(FILE *fp, const char *const *fields, const int *pos, int n)
{
    char line[1024] = "";
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && len > 0)
            line[len - 1] = ' ';
        size_t flen = strlen(fields[i]);
        if (len + flen >= sizeof line - 1)
            flen = sizeof line - 1 - len;
        memcpy(line + len, fields[i], flen);
        len += flen;
        if (len > (size_t)pos[i])
            len = (size_t)pos[i];
        while (len < (size_t)pos[i] && len < sizeof line - 1)
            line[len++] = ' ';
        line[len] = '\0';
    }
    fprintf(fp, "%s\n", line);
}

static void rule(FILE *fp, char c, int n)
{
    for (int i = 0; i < n; i++)
        fputc(c, fp);
    fputc('\n', fp);
}

/* Python's '{:,}'.format(n). */
static void fmt_thousands(char *buf, size_t size, int64_t v)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t nd = strlen(digits), k = 0;
    if (v < 0 && k < size - 1)
        buf[k++] = '-';
    for (size_t i = 0; i < nd && k < size - 1; i++) {
        buf[k++] = digits[i];
        if ((nd - i - 1) % 3 == 0 && i != nd - 1 && k < size - 1)
            buf[k++] = ',';
    }
    buf[k] = '\0';
}

/* Keras treats a graph as sequential-like when every node has at most one input and
 * each layer feeds the next. */
static int sequential_like(const ic_model *m)
{
    if (m->sequential)
        return 1;
    for (int i = 0; i < m->n_nodes; i++) {
        const ic__node *nd = &m->nodes[i];
        if (nd->n_in > 1 || (nd->n_in == 1 && nd->in[0] != i - 1))
            return 0;
    }
    return 1;
}

ic_status ic_model_summary(const ic_model *m, FILE *fp, int line_length)
{
    int L = line_length > 0 ? line_length : 80;
    if (L > 1000)
        L = 1000;
    int seq = sequential_like(m);
    int pos[4];
    int ncol;
    const char *hdr[4] = {"Layer (type)", "Output Shape", "Param #", "Connected to"};
    if (seq) {
        pos[0] = (int)(L * .45), pos[1] = (int)(L * .85), pos[2] = L;
        ncol = 3;
    } else {
        pos[0] = (int)(L * .33), pos[1] = (int)(L * .55), pos[2] = (int)(L * .67), pos[3] = L;
        ncol = 4;
    }
    rule(fp, '_', L);
    print_row(fp, hdr, pos, ncol);
    rule(fp, '=', L);
    int nl = ic_model_num_layers(m);
    for (int i = 0; i < nl; i++) {
        const ic_layer *l = ic_model_layer(m, i);
        char name[300], shape[128], params[32], conn[300] = "";
        snprintf(name, sizeof name, "%s (%s)", l->name, l->vt->class_name);
        ic__shape_fmt(&l->out, shape, sizeof shape);
        snprintf(params, sizeof params, "%lld", (long long)ic_layer_count_params(l));
        /* Keras 2.2.4 prints "name[node][tensor]" of the first inbound layer on the
         * layer's row and one more row per further inbound layer. */
        const ic__node *nd = &m->nodes[i + (m->sequential && m->input_node == 0)];
        if (!seq && nd->n_in > 0)
            snprintf(conn, sizeof conn, "%s[0][0]", m->nodes[nd->in[0]].layer->name);
        const char *fields[4] = {name, shape, params, conn};
        print_row(fp, fields, pos, ncol);
        for (int j = 1; !seq && j < nd->n_in; j++) {
            snprintf(conn, sizeof conn, "%s[0][0]", m->nodes[nd->in[j]].layer->name);
            const char *more[4] = {"", "", "", conn};
            print_row(fp, more, pos, ncol);
        }
        rule(fp, i == nl - 1 ? '=' : '_', L);
    }
    if (nl == 0)
        rule(fp, '=', L);
    int64_t total = ic_model_count_params(m), trainable = ic_model_count_trainable_params(m);
    char a[32], b[32], c[32];
    fmt_thousands(a, sizeof a, total);
    fmt_thousands(b, sizeof b, trainable);
    fmt_thousands(c, sizeof c, total - trainable);
    fprintf(fp, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n", a, b, c);
    rule(fp, '_', L);
    return ferror(fp) ? ic_seterr(IC_ERR_IO, "writing the summary failed") : IC_OK;
}
