/* Table-derived gradients of approximate multipliers (see grad_table.c). */
#ifndef AXNN_QUANT_GRAD_TABLE_H
#define AXNN_QUANT_GRAD_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#define AXNN_TGRAD_MAX_RANK 4

/* Error slopes as separable sums, index a + 128 / b + 128:
 *   Sa(a, b) - b ~ sum_{i < ra} ua[i][a] va[i][b]     (slope along the activation operand)
 *   Sb(a, b) - a ~ sum_{i < rb} ub[i][a] vb[i][b]     (slope along the weight operand) */
typedef struct axnn_tgrad {
    int ra, rb;
    float ua[AXNN_TGRAD_MAX_RANK][256], va[AXNN_TGRAD_MAX_RANK][256];
    float ub[AXNN_TGRAD_MAX_RANK][256], vb[AXNN_TGRAD_MAX_RANK][256];
    double energy_a, energy_b; /* share of each slope table's energy captured */
} axnn_tgrad;

/* The factorization of a multiplier table (65,536 entries), cached; NULL when out of memory. */
const axnn_tgrad *axnn_tgrad_get(const int32_t *table);

#endif
