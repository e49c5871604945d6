/* train_val.c - ic_flow_train_val (data.h): the training and validation iterators of a
 * folder laid out as the book's (train/ and validation/, one folder per class), with the
 * class order of train/ imposed on validation so that labels mean the same in both. */
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "data_impl.h"
#include "imgclass/model.h"

static int is_dir(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* One iterator; a folder whose class folders hold no images is an error of that folder. */
static ic_status open_one(ic_dir_iterator **it, const char *dir, const ic_image_data_generator *g,
                          const ic_flow_opts *f)
{
    ic_status s = ic_flow_from_directory(it, dir, g, f);
    if (s)
        return s;
    if (ic_dir_iterator_samples(*it) == 0) {
        ic_dir_iterator_free(*it);
        *it = NULL;
        return ic_seterr(IC_ERR_NOT_FOUND, "no images (JPEG/PNG) in the class folders of %s",
                         dir);
    }
    return IC_OK;
}

static ic_status open_both(ic_train_val *d, const char *tdir, const char *vdir,
                           const ic_image_data_generator *gtrain,
                           const ic_image_data_generator *gval, const ic_flow_opts *o)
{
    ic_flow_opts f = *o;
    f.has_seed = 1;
    /* The default is half the compute threads: one worker on 2 cores still decodes and
     * augments ~1,000 images/s, far above what a step consumes, and the step needs the
     * cores (docs/performance.md). Batches do not depend on the number of workers. */
    int nt = ic_num_threads();
    f.threads = o->threads > 0 || o->threads == IC_FLOW_INLINE ? o->threads : nt > 1 ? nt / 2 : 1;
    /* Two classes: labels 0/1 for the sigmoid unit; more: one-hot for softmax. Unknown
     * yet: scan with sparse labels (the binary ones for two classes), and open again with
     * one-hot labels if there are more. */
    f.class_mode = o->classes ? (o->n_classes == 2 ? IC_CLASS_BINARY : IC_CLASS_CATEGORICAL)
                              : IC_CLASS_SPARSE;
    ic_status s = open_one(&d->train, tdir, gtrain, &f);
    if (s)
        return s;
    int k = ic_dir_iterator_num_classes(d->train);
    if (k < 2)
        return ic_seterr(IC_ERR_INVALID,
                         "%s has %d class folder; a classifier needs at least 2 (one folder "
                         "per class)",
                         tdir, k);
    if (!o->classes && k > 2) {
        ic_dir_iterator_free(d->train);
        d->train = NULL;
        f.class_mode = IC_CLASS_CATEGORICAL;
        if ((s = open_one(&d->train, tdir, gtrain, &f)))
            return s;
    }
    d->n_classes = k;
    const char **names = NULL;
    if (!o->classes) { /* validation: the training classes, in the training order */
        if (!(names = ic__calloc((size_t)k, sizeof *names)))
            return IC_ERR_NOMEM;
        for (int i = 0; i < k; i++)
            names[i] = ic_dir_iterator_class_name(d->train, i);
        f.classes = names;
        f.n_classes = k;
    }
    f.class_mode = k == 2 ? IC_CLASS_BINARY : IC_CLASS_CATEGORICAL;
    f.shuffle = 1;
    s = open_one(&d->val, vdir, gval, &f);
    ic__free(names);
    return s;
}

ic_status ic_flow_train_val(ic_train_val *out, const char *dir,
                            const ic_image_data_generator *gtrain,
                            const ic_image_data_generator *gval, const ic_flow_opts *o)
{
    if (!out)
        return ic_seterr(IC_ERR_INVALID, "ic_flow_train_val: out is NULL");
    memset(out, 0, sizeof *out);
    if (!dir || !o)
        return ic_seterr(IC_ERR_INVALID, "ic_flow_train_val: NULL folder or options");
    if (!is_dir(dir))
        return ic_seterr(IC_ERR_NOT_FOUND, "%s: no such directory", dir);
    char *tdir = ic__path_join(dir, "train"), *vdir = ic__path_join(dir, "validation");
    ic_status s = tdir && vdir ? IC_OK : IC_ERR_NOMEM;
    const char *missing = s ? NULL : !is_dir(tdir) ? tdir : !is_dir(vdir) ? vdir : NULL;
    if (missing)
        s = ic_seterr(IC_ERR_NOT_FOUND,
                      "%s: no such directory (%s must hold train/ and validation/, each with "
                      "one folder per class)",
                      missing, dir);
    if (!s)
        s = open_both(out, tdir, vdir, gtrain, gval, o);
    ic__free(tdir);
    ic__free(vdir);
    if (s)
        ic_train_val_free(out);
    return s;
}

void ic_train_val_free(ic_train_val *d)
{
    if (!d)
        return;
    ic_dir_iterator_free(d->train);
    ic_dir_iterator_free(d->val);
    memset(d, 0, sizeof *d);
}
