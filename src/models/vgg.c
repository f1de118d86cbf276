/* CIFAR VGGs with batch norm, as chenyaofo/pytorch-cifar-models' VGG: `features` is a
 * Sequential of conv3x3(+bias)-BN-ReLU triples and 2x2 max-pools, numbered as PyTorch numbers
 * the Sequential's children (ReLU and MaxPool take indices too); `classifier` is
 * Linear(512,512)-ReLU-Dropout-Linear(512,512)-ReLU-Dropout-Linear(512, classes), names
 * classifier.0, .3 and .6. For inputs other than 32x32 the first linear layer takes
 * 512 * (H/32) * (W/32) features. */
#include "axnn/models.h"
#include "axnn/ops.h"

#include <stdio.h>

#define M (-1)

static const int cfg11[] = {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M, 0};
static const int cfg13[] = {64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M, 0};
static const int cfg16[] = {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M,
                            512, 512, 512, M, 0};
static const int cfg19[] = {64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512,
                            M, 512, 512, 512, 512, M, 0};

static int linear_init(axnn_graph *g, const char *name, int x, int out, axnn_rng *r)
{
    int y = axnn_linear(g, name, x, out, true);
    if (y < 0) return -1;
    char key[AXNN_NAME_MAX];
    snprintf(key, sizeof key, "%s.weight", name);
    axnn_init_normal(&g->vals[axnn_graph_find_value(g, key)], 0.01f, r);
    return y; /* bias stays 0 */
}

int axnn_build_cifar_vgg(axnn_graph *g, int x, int depth, int num_classes, axnn_rng *r)
{
    const int *cfg = depth == 11 ? cfg11 : depth == 13 ? cfg13 : depth == 16 ? cfg16 : cfg19;
    int y = x, idx = 0;
    char n[AXNN_NAME_MAX];
    for (int i = 0; cfg[i]; i++) {
        if (cfg[i] == M) {
            y = axnn_maxpool2d(g, y, 2, 2, 0);
            idx++;
            continue;
        }
        snprintf(n, sizeof n, "features.%d", idx);
        y = axnn_conv2d(g, n, y, cfg[i], 3, 1, 1, true);
        if (y < 0) return -1;
        snprintf(n, sizeof n, "features.%d.weight", idx);
        axnn_init_kaiming_normal_fan_out(&g->vals[axnn_graph_find_value(g, n)], r);
        snprintf(n, sizeof n, "features.%d", idx + 1);
        y = axnn_relu(g, axnn_batchnorm2d(g, n, y));
        idx += 3;
    }
    y = axnn_flatten(g, y);
    y = axnn_relu(g, linear_init(g, "classifier.0", y, 512, r));
    y = axnn_dropout(g, y, 0.5f);
    y = axnn_relu(g, linear_init(g, "classifier.3", y, 512, r));
    y = axnn_dropout(g, y, 0.5f);
    return linear_init(g, "classifier.6", y, num_classes, r);
}
