/* The op registry: op names -> definitions, for the calls that name an op by a string
 * (axnn_graph_add_node, importers). The ops register themselves (src/ops/build.c,
 * axnn_ops_init); the graph module knows none of them. Registration happens once, under a
 * mutex, before any lookup that needs it; lookups after that only read. */
#include "graph/op.h"

#include <pthread.h>
#include <string.h>

#define MAX_OPS 128

static const axnn_op_def *ops[MAX_OPS];
static int nops;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

axnn_status axnn_op_register(const axnn_op_def *op)
{
    axnn_status st = AXNN_OK;
    pthread_mutex_lock(&lock);
    int i = 0;
    while (i < nops && strcmp(ops[i]->name, op->name)) i++;
    if (i < nops && ops[i] != op)
        st = axnn_error(AXNN_ERR_ARG, "op '%s' is registered twice", op->name);
    else if (i == nops && nops == MAX_OPS)
        st = axnn_error(AXNN_ERR_NOMEM, "op registry full (%d ops)", MAX_OPS);
    else if (i == nops)
        ops[nops++] = op;
    pthread_mutex_unlock(&lock);
    return st;
}

const axnn_op_def *axnn_op_find(const char *name)
{
    const axnn_op_def *r = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nops && !r; i++)
        if (!strcmp(ops[i]->name, name)) r = ops[i];
    pthread_mutex_unlock(&lock);
    return r;
}
