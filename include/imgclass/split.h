/* split.h - building the train / validation / test folders flow_from_directory reads from a
 * pile of images, as the book's R script does for Kaggle's Dogs vs Cats (cat.1..cat.1000 to
 * train, cat.1001..cat.1500 to validation, cat.1501..cat.2000 to test, same for dogs).
 *
 * ic_dataset_split(src, dst, opts, report) writes dst/train/<class>/, dst/validation/<class>/
 * and dst/test/<class>/ (only the splits that get files). Classes are the file name prefixes
 * (text before the first '.') of the regular, non-hidden files directly in src, or src's
 * subfolders (their regular, non-hidden files, not recursive). Within a class, files are
 * taken in natural order (digit runs compare as numbers: cat.2 before cat.10), after
 * dropping the first `skip`, either N per split or by fractions after a seeded shuffle
 * (numpy's: np.random.seed(seed), then one np.random.permutation per class, classes in
 * byte order of their names).
 *
 * Everything is checked before anything is written: a class with too few files, or a split
 * folder that exists (without force), fails with nothing written. Files are copied through
 * a temporary file, fsync and rename, or hard-linked. Error messages name the file or class
 * and the problem, and name the options as the imgclass command spells them (--train,
 * --skip, --force, ...), each of which is the ic_split_opts field of the same name.
 */
#ifndef IMGCLASS_SPLIT_H
#define IMGCLASS_SPLIT_H

#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The splits, in the order they take files from each class. */
enum { IC_SPLIT_TRAIN = 0, IC_SPLIT_VALIDATION = 1, IC_SPLIT_TEST = 2, IC_SPLIT_COUNT = 3 };

/* "train", "validation", "test" (the folder names); NULL for any other index. */
const char *ic_split_name(int split);

/* Where classes come from. */
typedef enum ic_split_by {
    IC_SPLIT_BY_AUTO = 0, /* IC_SPLIT_BY_FOLDER if src has a (non-hidden) subfolder, else prefix */
    IC_SPLIT_BY_PREFIX,   /* cat.123.jpg in src -> class cat; files without a prefix are ignored */
    IC_SPLIT_BY_FOLDER    /* each subfolder of src is a class */
} ic_split_by;

/* Options. A zeroed struct means: classes found automatically, counts mode, seed 0, no skip,
 * copies, no replacing; set counts or fractions (at least one split must get files). */
typedef struct ic_split_opts {
    ic_split_by by;
    /* 0: counts[s] files of each class go to split s (train, validation, test in turn);
     * a split with count 0 is not created. A class with fewer than skip + the sum of the
     * counts files is an error.
     * 1: fractions[s] of each class's files (after skip) go to split s, each boundary
     * rounded to the nearest file (round(m * cumulative fraction)); fractions are in
     * [0, 1] with sum <= 1 (files beyond the sum are left out); a split with fraction 0 is
     * not created, and one with a positive fraction that rounds to no file of some class is
     * an error. */
    int use_fractions;
    int64_t counts[IC_SPLIT_COUNT];
    double fractions[IC_SPLIT_COUNT];
    uint32_t seed; /* of the shuffle (fractions only): same seed, same split */
    int64_t skip;  /* leave out the first skip files of each class (natural order) */
    int link;      /* hard links instead of copies (src and dst on one file system) */
    int force;     /* replace existing dst/<split> folders (only those being written) */
} ic_split_opts;

/* One class of the result. */
typedef struct ic_split_class {
    char *name;
    int64_t files;                 /* files found for the class in src */
    int64_t count[IC_SPLIT_COUNT]; /* files written to each split */
} ic_split_class;

/* What was written. Owned by the caller; release with ic_split_report_free. */
typedef struct ic_split_report {
    ic_split_class *classes; /* in byte order of their names */
    int n_classes;
    int active[IC_SPLIT_COUNT]; /* 1 for each split that was written (has a folder) */
    ic_split_by by;             /* how classes were found: IC_SPLIT_BY_PREFIX or _FOLDER */
    int linked;                 /* opts->link */
    int64_t written;            /* files copied or linked, all splits together */
} ic_split_report;

/* Splits the pile in src into dst (created if missing, with its parents). out may be NULL;
 * otherwise it is filled on success and left empty (zeroed) on failure. Errors:
 * IC_ERR_INVALID (bad options, a class with too few files, a split folder that exists
 * without force), IC_ERR_NOT_FOUND (src is not a readable folder, no classes in it),
 * IC_ERR_IO (reading, copying, linking or creating failed: files written before the
 * failure stay), IC_ERR_NOMEM. */
ic_status ic_dataset_split(const char *src, const char *dst, const ic_split_opts *opts,
                           ic_split_report *out);

/* Releases what a report holds and zeroes it. NULL is accepted. */
void ic_split_report_free(ic_split_report *r);

#ifdef __cplusplus
}
#endif
#endif
