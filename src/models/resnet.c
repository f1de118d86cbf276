/* CIFAR ResNets (He et al. 2016, section 4.2), as chenyaofo/pytorch-cifar-models' CifarResNet:
 * conv3x3(16)-BN-ReLU, three stages of n BasicBlocks with 16, 32 and 64 channels (depth =
 * 6n + 2), strides 1, 2, 2, a 1x1 conv + BN downsample where the shape changes, global average
 * pool and a linear classifier. State-dict names: conv1, bn1, layerS.B.{conv1,bn1,conv2,bn2,
 * downsample.0,downsample.1}, fc. */
#include "axnn/models.h"
#include "axnn/ops.h"

#include <stdio.h>

static void init_conv(axnn_graph *g, const char *name, axnn_rng *r)
{
    char key[AXNN_NAME_MAX];
    snprintf(key, sizeof key, "%s.weight", name);
    axnn_init_kaiming_normal_fan_out(&g->vals[axnn_graph_find_value(g, key)], r);
}

static int basic_block(axnn_graph *g, const char *prefix, int x, int cin, int planes, int stride,
                       axnn_rng *r)
{
    char n[AXNN_NAME_MAX];
    snprintf(n, sizeof n, "%s.conv1", prefix);
    int y = axnn_conv2d(g, n, x, planes, 3, stride, 1, false);
    if (y >= 0) init_conv(g, n, r);
    snprintf(n, sizeof n, "%s.bn1", prefix);
    y = axnn_relu(g, axnn_batchnorm2d(g, n, y));
    snprintf(n, sizeof n, "%s.conv2", prefix);
    y = axnn_conv2d(g, n, y, planes, 3, 1, 1, false);
    if (y >= 0) init_conv(g, n, r);
    snprintf(n, sizeof n, "%s.bn2", prefix);
    y = axnn_batchnorm2d(g, n, y);
    int identity = x;
    if (stride != 1 || cin != planes) {
        snprintf(n, sizeof n, "%s.downsample.0", prefix);
        identity = axnn_conv2d(g, n, x, planes, 1, stride, 0, false);
        if (identity >= 0) init_conv(g, n, r);
        snprintf(n, sizeof n, "%s.downsample.1", prefix);
        identity = axnn_batchnorm2d(g, n, identity);
    }
    return axnn_relu(g, axnn_add(g, y, identity));
}

int axnn_build_cifar_resnet(axnn_graph *g, int x, int depth, int num_classes, axnn_rng *r)
{
    int blocks = (depth - 2) / 6;
    int y = axnn_conv2d(g, "conv1", x, 16, 3, 1, 1, false);
    if (y < 0) return -1;
    init_conv(g, "conv1", r);
    y = axnn_relu(g, axnn_batchnorm2d(g, "bn1", y));
    int cin = 16;
    const int planes[3] = {16, 32, 64};
    for (int s = 0; s < 3; s++)
        for (int b = 0; b < blocks; b++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "layer%d.%d", s + 1, b);
            y = basic_block(g, prefix, y, cin, planes[s], (s > 0 && b == 0) ? 2 : 1, r);
            cin = planes[s];
        }
    y = axnn_flatten(g, axnn_global_avgpool(g, y));
    y = axnn_linear(g, "fc", y, num_classes, true);
    if (y < 0) return -1;
    axnn_init_torch_linear(&g->vals[axnn_graph_find_value(g, "fc.weight")],
                           &g->vals[axnn_graph_find_value(g, "fc.bias")], r);
    return y;
}
