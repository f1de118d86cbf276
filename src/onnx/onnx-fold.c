/* placeholder until written */
#include "onnx/onnx-internal.h"
axnn_status axnn_onnx_fix_inputs(axnn_onnx_model *m, int64_t batch)
{
    return axnn_error(AXNN_ERR_UNSUPPORTED, "%s: not yet", m->path);
}
