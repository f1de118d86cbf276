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

#endif
