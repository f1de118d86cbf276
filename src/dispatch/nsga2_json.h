/* Internal: restoring an NSGA-II state from an already parsed JSON object (the search keeps the
 * population inside its own state file; re-printing it through cJSON would round numbers). */
#ifndef AXNN_DISPATCH_NSGA2_JSON_H
#define AXNN_DISPATCH_NSGA2_JSON_H

#include "axnn/dispatch.h"

#include <cjson/cJSON.h>

axnn_status axnn_nsga2_from_cjson(axnn_nsga2 *s, const cJSON *o, const char *what);

#endif
