/* test_metrics.c - ic_roc_auc against the definition (every positive/negative pair,
 * ties one half), on random scores with many ties, the known small cases, and its errors. */
#include <stdint.h>

#include "../harness.h"

/* The definition, O(n^2). */
static double naive_auc(const float *s, const float *y, int n)
{
    double sum = 0;
    long pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (y[i] == 1 && y[j] == 0) {
                sum += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
                pairs++;
            }
    return sum / (double)pairs;
}

int main(void)
{
    double auc;
    /* scikit-learn's documented example: 0.75 */
    const float y4[] = {0, 0, 1, 1}, s4[] = {0.1f, 0.4f, 0.35f, 0.8f};
    OK(ic_roc_auc(s4, y4, 4, &auc));
    CHECKF(fabs(auc - 0.75) < 1e-15, "%.17g", auc);
    /* separated, reversed, all tied */
    const float ys[] = {0, 1, 0, 1}, sep[] = {0.2f, 0.9f, 0.1f, 0.7f}, rev[] = {0.9f, 0.1f, 0.8f, 0.2f},
                tie[] = {1, 1, 1, 1};
    OK(ic_roc_auc(sep, ys, 4, &auc));
    CHECKF(auc == 1.0, "%.17g", auc);
    OK(ic_roc_auc(rev, ys, 4, &auc));
    CHECKF(auc == 0.0, "%.17g", auc);
    OK(ic_roc_auc(tie, ys, 4, &auc));
    CHECKF(auc == 0.5, "%.17g", auc);

    /* random: scores on a coarse grid (many ties, as saturated sigmoids give 0 and 1),
     * unbalanced classes, several sizes */
    uint64_t r = 12345;
    for (int trial = 0; trial < 40; trial++) {
        int n = 2 + trial * 37;
        float *s = malloc(sizeof *s * (size_t)n), *y = malloc(sizeof *y * (size_t)n);
        for (int i = 0; i < n; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            y[i] = (float)((r >> 33) % 3 == 0);
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            int grid = trial % 2 ? 7 : 1000;
            s[i] = (float)((r >> 33) % (uint64_t)grid) / (float)grid + (y[i] ? 0.1f : 0.0f);
        }
        y[0] = 1, y[1] = 0; /* both classes present */
        OK(ic_roc_auc(s, y, n, &auc));
        double ref = naive_auc(s, y, n);
        CHECKF(fabs(auc - ref) < 1e-12, "trial %d n %d: %.17g vs %.17g", trial, n, auc, ref);
        free(s);
        free(y);
    }

    /* errors, by message */
    const float one[] = {1, 1, 1}, sc[] = {0.1f, 0.2f, 0.3f}, bad[] = {0, 2, 1};
    EXPECT_ERR(ic_roc_auc(sc, one, 3, &auc), IC_ERR_INVALID, "both classes, got 3 positive and 0");
    EXPECT_ERR(ic_roc_auc(sc, bad, 3, &auc), IC_ERR_INVALID, "label 1 is 2, not 0 or 1");
    const float nan_s[] = {0.1f, NAN, 0.3f};
    EXPECT_ERR(ic_roc_auc(nan_s, ys, 3, &auc), IC_ERR_NUMERIC, "score 1 is NaN");
    EXPECT_ERR(ic_roc_auc(NULL, ys, 3, &auc), IC_ERR_INVALID, "NULL");
    EXPECT_ERR(ic_roc_auc(sc, ys, 0, &auc), IC_ERR_INVALID, "both classes");
    return t_finish();
}
