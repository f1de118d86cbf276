/* Reports and the study's bookkeeping: JSON with non-finite numbers stays valid (null, listed);
 * the shard assignment gives every cell to exactly one shard, in contiguous blocks; cell files
 * that lie about their cell are refused; point labels are placed without overlaps. */
#include "testutil.h"

#include "axnn/report.h"
#include "report/labels.h"
#include "study/study_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_json_nonfinite(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    axnn_json_nonfinite nf = {0};
    fprintf(f, "{\"name\": ");
    axnn_json_string(f, "a \"quoted\"\\name\n");
    fprintf(f, ", \"ok\": ");
    axnn_json_number(f, "%.3f", 1.5, &nf, "ok");
    fprintf(f, ", \"rows\": [");
    nf.array = "rows";
    for (int i = 0; i < 3; i++) {
        nf.row = i;
        fprintf(f, "%s{\"v\": ", i ? ", " : "");
        axnn_json_number(f, "%.6f", i == 1 ? NAN : i == 2 ? -INFINITY : 0.25, &nf, "v");
        fprintf(f, "}");
    }
    fprintf(f, "]");
    axnn_json_flag_nonfinite(f, &nf, "test.json");
    fprintf(f, "}");
    fclose(f);
    cJSON *o = cJSON_Parse(buf);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "a \"quoted\"\\name\n");
    const cJSON *rows = cJSON_GetObjectItem(o, "rows");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "v")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "v")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 2), "v")));
    const cJSON *list = cJSON_GetObjectItem(o, "nonfinite");
    assert_int_equal(cJSON_GetArraySize(list), 2);
    assert_string_equal(cJSON_GetArrayItem(list, 0)->valuestring, "rows[1].v");
    assert_string_equal(cJSON_GetArrayItem(list, 1)->valuestring, "rows[2].v");
    cJSON_Delete(o);
    free(buf);
    /* all finite: no "nonfinite" key at all */
    buf = NULL;
    f = open_memstream(&buf, &len);
    axnn_json_nonfinite none = {0};
    fprintf(f, "{\"x\": ");
    axnn_json_number(f, "%g", 2.0, &none, "x");
    axnn_json_flag_nonfinite(f, &none, "test.json");
    fprintf(f, "}");
    fclose(f);
    assert_string_equal(buf, "{\"x\": 2}");
    free(buf);
}

static void test_shard_assignment(void **state)
{
    (void)state;
    study_grid g;
    assert_int_equal(study_grid_parse(&g, "dense,hard,soft,cluster",
                                      "exact,udm,trunc:6,mitchell,bam:2,6,drum:3,trunc:7",
                                      "trunc:7,bam:2,6", AXNN_GRAD_STE),
                     AXNN_OK);
    const int c = study_grid_ncells(&g);
    assert_int_equal(c, 4 * 7 + 2);
    for (int i = 0; i < c; i++) { /* run order: index and cell agree */
        int t, m;
        study_grid_cell(&g, i, &t, &m);
        assert_int_equal(study_grid_index(&g, t, m), i);
    }
    for (int n = 1; n <= c; n++) {
        int prev = 1;
        int count[64] = {0};
        for (int i = 0; i < c; i++) {
            int owners = 0, k0 = 0;
            for (int k = 1; k <= n; k++)
                if (study_shard_owns(&g, k, n, i)) owners++, k0 = k;
            assert_int_equal(owners, 1);
            assert_true(k0 == prev || k0 == prev + 1); /* contiguous blocks, in order */
            prev = k0;
            count[k0]++;
        }
        for (int k = 1; k <= n; k++) assert_true(count[k] >= c / n && count[k] <= c / n + 1);
    }
    /* duplicates and clashing cell names are refused, naming the flag */
    assert_int_equal(study_grid_parse(&g, "dense", "exact,trunc:7,exact", NULL, AXNN_GRAD_STE),
                     AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "--mul: 'exact' is given twice"));
    assert_int_equal(study_grid_parse(&g, "dense", "trunc:7,trunc_7", NULL, AXNN_GRAD_STE),
                     AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "would share the cell file trunc_7.json"));
    assert_int_equal(study_grid_parse(&g, "soft,soft", "exact", NULL, AXNN_GRAD_STE), AXNN_ERR_ARG);
    assert_non_null(strstr(axnn_last_error(), "--topologies"));
    axnn_clear_error();
}

static void test_cell_validation(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/c.json", dir);
    study_cell c = {.have_before = true,
                    .have_after = true,
                    .acc_before = 0.5,
                    .acc_after = 0.9,
                    .static_macs = 100,
                    .eff_before = 100,
                    .eff_after = 100,
                    .f_apx = 1,
                    .pnorm_before = 0.8,
                    .pnorm_after = 0.8,
                    .p_mul = 0.3,
                    .p_exact = 0.4,
                    .experts = 2,
                    .nunits = 1,
                    .loads = {{0.4, 0.6}}};
    snprintf(c.topo, sizeof c.topo, "hard");
    snprintf(c.mul, sizeof c.mul, "trunc:7");
    snprintf(c.grad, sizeof c.grad, "ste");
    snprintf(c.unit_names[0], sizeof c.unit_names[0], "layer3.2");
    assert_int_equal(study_cell_save(path, &c), AXNN_OK);
    study_cell r;
    assert_int_equal(study_cell_load(path, "hard", "trunc:7", "ste", &r), AXNN_OK);
    assert_true(r.have_after && r.acc_after == 0.9 && r.nunits == 1 && r.loads[0][1] == 0.6);
    assert_int_equal(study_cell_load(path, "dense", "trunc:7", "ste", &r), AXNN_ERR_FORMAT);
    assert_non_null(strstr(axnn_last_error(), "names 'hard', not this file's topology"));
    assert_false(r.have_before); /* a refused cell reads as not done */
    assert_int_equal(study_cell_load(path, "hard", "trunc:8", "ste", &r), AXNN_ERR_FORMAT);
    assert_int_equal(study_cell_load(path, "hard", "trunc:7", "table", &r), AXNN_ERR_FORMAT);
    c.acc_after = 5.0;
    assert_int_equal(study_cell_save(path, &c), AXNN_OK);
    assert_int_equal(study_cell_load(path, "hard", "trunc:7", "ste", &r), AXNN_ERR_FORMAT);
    assert_non_null(strstr(axnn_last_error(), "'accuracy_after' is out of range"));
    c.acc_after = 0.9;
    c.eff_after = NAN; /* cJSON writes null */
    assert_int_equal(study_cell_save(path, &c), AXNN_OK);
    assert_int_equal(study_cell_load(path, "hard", "trunc:7", "ste", &r), AXNN_ERR_FORMAT);
    assert_non_null(strstr(axnn_last_error(), "'eff_macs_after' is not a number"));
    snprintf(path, sizeof path, "%s/missing.json", dir);
    assert_int_equal(study_cell_load(path, "hard", "trunc:7", "ste", &r), AXNN_OK);
    assert_false(r.have_before);
    assert_int_equal(study_cell_load(dir, "hard", "trunc:7", "ste", &r),
                     AXNN_ERR_IO); /* a folder */
    assert_non_null(strstr(axnn_last_error(), "not a regular file"));
    axnn_clear_error();
    tu_rmtree(dir);
    free(dir);
}

static void test_labels_do_not_overlap(void **state)
{
    (void)state;
    plot_geom g = {80, 740, 49, 630, 0.4, 1.5, 0, 110, false};
    /* a crowd: eight labels on four nearly coincident points, two exact duplicates */
    const char *names[] = {"drum:3",  "drum:3", "trunc:8", "mitchell",
                           "bam:2,6", "udm",    "trunc:6", "trunc:7"};
    const double x[] = {0.52, 0.52, 0.53, 0.54, 0.53, 0.52, 0.54, 0.55},
                 y[] = {100, 100, 99, 100, 98, 99, 97, 100};
    plot_label l[8];
    for (int i = 0; i < 8; i++) l[i] = (plot_label){.text = names[i], .x = x[i], .y = y[i]};
    int n = plot_place_labels(&g, l, 8, x, y, 8);
    assert_int_equal(n, 7); /* the two drum:3 at one spot merged */
    for (int i = 0; i < n; i++) {
        double ax = 80 + (l[i].lx - g.x0) / (g.x1 - g.x0) * 660,
               ay = 49 + (g.y1 - l[i].ly) / (g.y1 - g.y0) * 581;
        double w = 7.0 * (double)strlen(l[i].text);
        assert_true(ax >= 80 && ax + w <= 740 && ay - 7 >= 49 &&
                    ay + 7 <= 630); /* inside the plot */
        for (int j = 0; j < i; j++) {
            double bx = 80 + (l[j].lx - g.x0) / (g.x1 - g.x0) * 660,
                   by = 49 + (g.y1 - l[j].ly) / (g.y1 - g.y0) * 581;
            double wj = 7.0 * (double)strlen(l[j].text);
            bool apart = ax + w <= bx || bx + wj <= ax || ay + 7 <= by - 7 || by + 7 <= ay - 7;
            assert_true(apart);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_nonfinite),
        cmocka_unit_test(test_shard_assignment),
        cmocka_unit_test(test_cell_validation),
        cmocka_unit_test(test_labels_do_not_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
