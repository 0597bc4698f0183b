/* What a model remembers of its data: CSV headers read alone, standardizers rebuilt from saved
 * statistics, numeric labels as classes, the record in a model's metadata (through save and load),
 * new data prepared the way training data was, and training logs read back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "temp_dir.h"
#include "test.h"

/* ----- helpers ----- */

static cg_dataset *read_csv_text(const temp_dir *dir, const char *name, const char *text,
                                 const cg_csv_options *options) {
    const char *path = temp_dir_file(dir, name);
    return write_file(path, text, strlen(text)) ? cg_csv_read(path, options) : NULL;
}

static bool names_are(const cg_name_list *list, const char *const *expected, int64_t count) {
    if (list->count != count) return false;
    for (int64_t i = 0; i < count; i++)
        if (strcmp(list->names[i], expected[i]) != 0) return false;
    return true;
}

static double feature_at(const cg_dataset *d, int64_t row, int64_t column) {
    const int64_t index[2] = {row, column};
    return cg_get(cg_dataset_features(d), index);
}

static double label_at(const cg_dataset *d, int64_t row) {
    const int64_t index[1] = {row};
    return cg_get(cg_dataset_labels(d), index);
}

/* A model of one dense layer over the data set's features. */
static cg_model *model_for(const cg_dataset *dataset) {
    cg_model *model = cg_sequential(cg_layer_dense(2, CG_ACTIVATION_NONE));
    if (model && cg_model_build(model, CG_SHAPE(cg_dataset_feature_count(dataset))) != 0) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

/* ----- CSV headers ----- */

TEST(csv_header_reads_the_first_record_as_cg_csv_read_does) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "quoted.csv");
    const char text[] = "\xEF\xBB\xBF\n\n  width ,\"height, cm\",\"say \"\"hi\"\"\"\r\n1,2,3\n";
    cg_name_list columns = {0}, generated = {0};
    const cg_csv_options no_header = {.delimiter = ',', .has_header = false};
    const bool read = write_file(path, text, sizeof text - 1) &&
                      cg_csv_read_header(path, NULL, &columns) == 0 &&
                      cg_csv_read_header(path, &no_header, &generated) == 0;
    temp_dir_remove(&dir);
    const char *expected[] = {"width", "height, cm", "say \"hi\""};
    const char *numbered[] = {"column_1", "column_2", "column_3"};
    const bool named = names_are(&columns, expected, 3) && names_are(&generated, numbered, 3);
    cg_name_list_free(&columns);
    cg_name_list_free(&generated);
    CHECK(read);
    CHECK(named);
}

TEST(csv_header_reports_bad_files) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    cg_name_list columns = {0};
    const char *empty = temp_dir_file(&dir, "empty.csv");
    const char *open_quote = temp_dir_file(&dir, "open.csv");
    const char *after_quote = temp_dir_file(&dir, "after.csv");
    const bool written = write_file(empty, "\n\n", 2) && write_file(open_quote, "\n\"a,b\n", 6) &&
                         write_file(after_quote, "\"a\"x,b\n", 7);
    CHECK(written);
    CHECK_ERROR(cg_csv_read_header(empty, NULL, &columns), "empty.csv': the file is empty");
    CHECK_ERROR(cg_csv_read_header(open_quote, NULL, &columns), "open.csv' line 2: unterminated");
    CHECK_ERROR(cg_csv_read_header(after_quote, NULL, &columns),
                "after.csv' line 1: unexpected 'x'");
    CHECK_ERROR(cg_csv_read_header(temp_dir_file(&dir, "none.csv"), NULL, &columns),
                "none.csv': cannot open");
    CHECK(columns.count == 0 && columns.names == NULL);
    temp_dir_remove(&dir);
}

/* ----- standardizers and labels ----- */

TEST(standardizer_new_copies_valid_statistics) {
    double mean[2] = {1.0, -2.0}, std[2] = {2.0, 0.5};
    cg_standardizer *s = cg_standardizer_new(2, mean, std);
    CHECK(s);
    mean[0] = std[0] = 99.0; /* copied, not borrowed */
    const bool kept = cg_standardizer_mean(s)[0] == 1.0 && cg_standardizer_std(s)[0] == 2.0 &&
                      cg_standardizer_mean(s)[1] == -2.0 && cg_standardizer_std(s)[1] == 0.5;
    cg_standardizer_free(s);
    CHECK(kept);
    const double zero[1] = {0.0}, nan[1] = {NAN};
    CHECK_ERROR(cg_standardizer_new(1, zero, zero), "positive");
    CHECK_ERROR(cg_standardizer_new(1, nan, mean), "finite");
    CHECK_ERROR(cg_standardizer_new(0, mean, std), "at least one feature");
}

TEST(numeric_labels_become_classes_named_by_value) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    cg_dataset *d = read_csv_text(&dir, "n.csv", "x,y\n1,2\n2,0\n3,2.5\n4,2\n5,0\n", NULL);
    cg_dataset *unlabelled =
        read_csv_text(&dir, "u.csv", "x\n1\n", &(cg_csv_options){',', true, NULL, CG_CSV_NO_LABEL});
    temp_dir_remove(&dir);
    CHECK(d && unlabelled);
    CHECK(cg_dataset_labels_to_classes(d) == 0);
    const int64_t classes = cg_dataset_class_count(d);
    const char *names[3] = {cg_dataset_class_name(d, 0), cg_dataset_class_name(d, 1),
                            cg_dataset_class_name(d, 2)};
    const double labels[5] = {label_at(d, 0), label_at(d, 1), label_at(d, 2), label_at(d, 3),
                              label_at(d, 4)};
    const bool int64_labels = cg_tensor_dtype(cg_dataset_labels(d)) == CG_INT64;
    const bool named = !strcmp(names[0], "0") && !strcmp(names[1], "2") && !strcmp(names[2], "2.5");
    CHECK(cg_dataset_labels_to_classes(d) == 0); /* already classes: unchanged */
    const int64_t classes_again = cg_dataset_class_count(d);
    cg_dataset_free(d);
    CHECK_ERROR(cg_dataset_labels_to_classes(unlabelled), "no labels");
    cg_dataset_free(unlabelled);
    CHECK(classes == 3 && classes_again == 3 && int64_labels);
    CHECK(named);
    CHECK(labels[0] == 1 && labels[1] == 0 && labels[2] == 2 && labels[3] == 1 && labels[4] == 0);
}

/* ----- the record in a model ----- */

TEST(model_data_record_survives_save_and_load) {
    cg_dataset *iris = cg_csv_read(test_source_path("data/iris.csv"), NULL);
    CHECK(iris);
    cg_standardizer *scaler = cg_standardizer_fit(iris);
    cg_model *model = model_for(iris);
    temp_dir dir;
    bool saved = false;
    cg_model *loaded = NULL;
    if (scaler && model && temp_dir_create(&dir)) {
        const char *path = temp_dir_file(&dir, "iris.safetensors");
        saved = cg_model_record_data(model, iris, "species", scaler) == 0 &&
                cg_model_save(model, path) == 0;
        loaded = saved ? cg_model_load(path) : NULL;
        temp_dir_remove(&dir);
    }
    cg_name_list features = {0}, classes = {0};
    cg_standardizer *restored = NULL;
    const bool read = loaded && cg_model_feature_names(loaded, &features) == 0 &&
                      cg_model_class_names(loaded, &classes) == 0 &&
                      cg_model_standardizer(loaded, &restored) == 0 && restored;
    bool same_statistics = read && cg_standardizer_feature_count(restored) == 4;
    for (int j = 0; same_statistics && j < 4; j++)
        same_statistics = cg_standardizer_mean(restored)[j] == cg_standardizer_mean(scaler)[j] &&
                          cg_standardizer_std(restored)[j] == cg_standardizer_std(scaler)[j];
    const char *feature_names[] = {"sepal_length", "sepal_width", "petal_length", "petal_width"};
    const char *class_names[] = {"setosa", "versicolor", "virginica"};
    const bool named = names_are(&features, feature_names, 4) &&
                       names_are(&classes, class_names, 3) &&
                       !strcmp(cg_model_label_column(loaded), "species");
    cg_name_list_free(&features);
    cg_name_list_free(&classes);
    cg_standardizer_free(restored);
    cg_model_free(loaded);
    cg_model_free(model);
    cg_standardizer_free(scaler);
    cg_dataset_free(iris);
    CHECK(saved && read);
    CHECK(same_statistics);
    CHECK(named);
}

TEST(model_data_record_can_be_empty_and_replaced) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    cg_dataset *d = read_csv_text(&dir, "d.csv", "a,b,kind\n1,2,x\n3,4,y\n", NULL);
    cg_dataset *values = read_csv_text(&dir, "v.csv", "a,b,size\n1,2,0.5\n3,4,1.5\n", NULL);
    temp_dir_remove(&dir);
    cg_model *model = d ? model_for(d) : NULL;
    CHECK(model && values);
    cg_name_list classes = {0};
    cg_standardizer *scaler = NULL;
    /* Nothing recorded yet: empty answers, no error. */
    const bool nothing = cg_model_class_names(model, &classes) == 0 && classes.count == 0 &&
                         cg_model_standardizer(model, &scaler) == 0 && !scaler &&
                         !cg_model_label_column(model);
    /* A regression record replaces a classification one, classes and all; then class names
     * cannot be the labels of its data. */
    const bool replaced = cg_model_record_data(model, d, "kind", NULL) == 0 &&
                          cg_model_record_data(model, values, NULL, NULL) == 0 &&
                          cg_model_class_names(model, &classes) == 0 && classes.count == 0 &&
                          !cg_model_label_column(model);
    CHECK_ERROR(cg_model_prepare_data(model, d), "trained on numeric labels");
    cg_dataset *inputs = cg_model_prepare_inputs(model, d);
    const bool inputs_only = inputs && !cg_dataset_labels(inputs);
    cg_dataset_free(inputs);
    CHECK(inputs_only);
    cg_dataset_free(d);
    cg_dataset_free(values);
    cg_model_free(model);
    CHECK(nothing);
    CHECK(replaced);
}

TEST(model_data_reports_malformed_metadata) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    cg_dataset *d = read_csv_text(&dir, "d.csv", "a,b,kind\n1,2,x\n3,4,y\n", NULL);
    temp_dir_remove(&dir);
    cg_model *model = d ? model_for(d) : NULL;
    CHECK(model);
    cg_name_list list = {0};
    cg_standardizer *scaler = NULL;
    cg_model_set_metadata(model, "data.classes", "[\"x\", 3]");
    CHECK_ERROR(cg_model_class_names(model, &list), "'data.classes': expected a JSON array");
    cg_model_set_metadata(model, "data.features", "not json");
    CHECK_ERROR(cg_model_feature_names(model, &list), "'data.features': json");
    cg_model_set_metadata(model, "data.standardize.mean", "1,x");
    cg_model_set_metadata(model, "data.standardize.std", "1,1");
    CHECK_ERROR(cg_model_standardizer(model, &scaler), "value 2 is not a number");
    cg_model_set_metadata(model, "data.standardize.mean", "1,2,3");
    CHECK_ERROR(cg_model_standardizer(model, &scaler), "3 means but 2 standard deviations");
    cg_model_set_metadata(model, "data.standardize.std", "");
    CHECK_ERROR(cg_model_standardizer(model, &scaler), "without 'data.standardize.std'");
    CHECK(list.count == 0 && !scaler);
    /* A data set whose standardizer has another feature count is refused. */
    cg_standardizer *three = cg_standardizer_new(3, (double[]){0, 0, 0}, (double[]){1, 1, 1});
    CHECK_ERROR(cg_model_record_data(model, d, NULL, three), "standardizer has 3 features");
    cg_standardizer_free(three);
    cg_model_free(model);
    cg_dataset_free(d);
}

/* ----- preparing new data ----- */

TEST(prepare_data_picks_columns_renumbers_classes_and_standardises) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    cg_dataset *train =
        read_csv_text(&dir, "train.csv", "a,b,kind\n0,10,x\n2,30,y\n4,20,x\n", NULL);
    /* New data: columns moved, an extra one, classes in another order. */
    cg_dataset *fresh = read_csv_text(
        &dir, "new.csv", "extra,b,kind,a\n7,20,y,2\n8,40,x,6\n",
        &(cg_csv_options){.delimiter = ',', .has_header = true, .label_column = "kind"});
    cg_dataset *unknown = read_csv_text(&dir, "unknown.csv", "a,b,kind\n1,1,z\n", NULL);
    cg_dataset *lacking = read_csv_text(&dir, "lacking.csv", "a,kind\n1,x\n", NULL);
    temp_dir_remove(&dir);
    cg_standardizer *scaler = train ? cg_standardizer_fit(train) : NULL;
    cg_model *model = train ? model_for(train) : NULL;
    CHECK(fresh && unknown && lacking && scaler && model);
    CHECK(cg_model_record_data(model, train, "kind", scaler) == 0);
    cg_dataset *prepared = cg_model_prepare_data(model, fresh);
    cg_dataset *inputs = cg_model_prepare_inputs(model, unknown);
    CHECK(prepared && inputs);
    /* a: mean 2, std sqrt(8/3); b: mean 20, std sqrt(200/3). */
    const double a_std = sqrt(8.0 / 3.0), b_std = sqrt(200.0 / 3.0);
    CHECK(cg_dataset_feature_count(prepared) == 2);
    CHECK_NEAR(feature_at(prepared, 0, 0), 0.0, 1e-6);
    CHECK_NEAR(feature_at(prepared, 0, 1), 0.0, 1e-6);
    CHECK_NEAR(feature_at(prepared, 1, 0), 4.0 / a_std, 1e-5);
    CHECK_NEAR(feature_at(prepared, 1, 1), 20.0 / b_std, 1e-5);
    CHECK(!strcmp(cg_dataset_feature_name(prepared, 0), "a"));
    CHECK(label_at(prepared, 0) == 1 && label_at(prepared, 1) == 0); /* y, x as in training */
    CHECK(!strcmp(cg_dataset_class_name(prepared, 0), "x"));
    /* Inputs only: the unknown class "z" is not read. */
    CHECK(cg_dataset_labels(inputs) == NULL && cg_dataset_class_count(inputs) == 0);
    CHECK_ERROR(cg_model_prepare_data(model, unknown), "the class \"z\" (row 1)");
    CHECK_ERROR(cg_model_prepare_data(model, lacking), "no column \"b\"");
    CHECK_ERROR(cg_model_prepare_data(NULL, fresh), "needs a model and a data set");
    cg_dataset_free(prepared);
    cg_dataset_free(inputs);
    cg_model_free(model);
    cg_standardizer_free(scaler);
    cg_dataset_free(train);
    cg_dataset_free(fresh);
    cg_dataset_free(unknown);
    cg_dataset_free(lacking);
}

TEST(prepare_data_matches_numeric_labels_and_unnamed_columns_by_position) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const cg_csv_options no_header = {.delimiter = ',', .has_header = false, .label_index = -1};
    cg_dataset *train = read_csv_text(&dir, "t.csv", "a,b,digit\n1,2,3\n3,4,7\n", NULL);
    cg_dataset *fresh = read_csv_text(&dir, "f.csv", "5,6,7\n7,8,3\n", &no_header);
    temp_dir_remove(&dir);
    CHECK(train && fresh);
    CHECK(cg_dataset_labels_to_classes(train) == 0);
    cg_model *model = model_for(train);
    CHECK(model && cg_model_record_data(model, train, "digit", NULL) == 0);
    /* fresh has generated column names, so columns go by position; labels by their text. */
    cg_model_set_metadata(model, "data.features", "");
    cg_dataset *prepared = cg_model_prepare_data(model, fresh);
    CHECK(prepared);
    const bool matched =
        label_at(prepared, 0) == 1 && label_at(prepared, 1) == 0 && feature_at(prepared, 1, 1) == 8;
    cg_dataset_free(prepared);
    cg_model_set_metadata(model, "data.features", "[\"a\", \"b\"]");
    CHECK_ERROR(cg_model_prepare_data(model, fresh), "no column \"a\"");
    cg_dataset_free(train);
    cg_dataset_free(fresh);
    cg_model_free(model);
    CHECK(matched);
}

/* ----- training logs ----- */

TEST(history_read_csv_gives_back_the_logged_history) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "log.csv");
    const char log[] = "epoch,loss,val_loss,lr\n0,1.5,1.75,0.1\n\n1,0.5,nan,0.05\r\n";
    cg_history *history = write_file(path, log, sizeof log - 1) ? cg_history_read_csv(path) : NULL;
    temp_dir_remove(&dir);
    CHECK(history);
    const double *loss = cg_history_series(history, "loss");
    const double *val = cg_history_series(history, "val_loss");
    const double *lr = cg_history_series(history, "lr");
    const bool read = cg_history_epochs(history) == 2 && cg_history_series_count(history) == 3 &&
                      loss && val && lr && loss[0] == 1.5 && loss[1] == 0.5 && val[0] == 1.75 &&
                      isnan(val[1]) && lr[1] == 0.05 && cg_history_epoch_index(history, 1) == 1;
    cg_history_free(history);
    CHECK(read);
}

TEST(history_read_csv_names_the_bad_line) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    struct {
        const char *text, *message;
    } cases[] = {
        {"time,loss\n0,1\n", "line 1: expected a header starting with \"epoch\""},
        {"epoch\n0\n", "line 1: the header names no series"},
        {"epoch,loss\n0,1\n1,x\n", "line 3: loss: expected a number, got \"x\""},
        {"epoch,loss,acc\n0,1\n", "line 2: acc: expected a number"},
        {"epoch,loss\n0,1,2\n", "line 2: more values than the 1 series"},
        {"epoch,loss\n1.5,1\n", "line 2: the epoch \"1.5,1\" is not a whole number"},
        {"epoch,loss\n3,1\n2,1\n", "line 3: cg_history_record: epoch 2 recorded after epoch 3"},
        {"epoch,loss\n", "no epochs in the file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = temp_dir_file(&dir, "log.csv");
        if (!write_file(path, cases[i].text, strlen(cases[i].text))) break;
        cg_clear_error();
        cg_history *history = cg_history_read_csv(path);
        const bool reported = !history && strstr(cg_last_error(), cases[i].message) &&
                              strstr(cg_last_error(), "log.csv");
        cg_history_free(history);
        if (!reported) {
            test_fail(__FILE__, __LINE__, "case %zu: error \"%s\", expected \"%s\"", i,
                      cg_last_error(), cases[i].message);
            break;
        }
    }
    CHECK_ERROR(cg_history_read_csv(temp_dir_file(&dir, "none.csv")), "cannot open");
    temp_dir_remove(&dir);
}
