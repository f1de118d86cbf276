/* axnn - approximate, adaptive and pipelined DNN inference research engine. */
#ifndef AXNN_H
#define AXNN_H

#include "base.h"
#include "graph.h"
#include "plan.h"
#include "ops.h"
#include "models.h"
#include "data.h"
#include "io.h"
#include "axmul.h"
#include "quant.h"
#include "train.h"
#include "moe.h"
#include "study.h"
#include "report.h"
#include "infer.h"
#include "onnx.h"
#include "pipe.h"
#include "dispatch.h"

#endif
