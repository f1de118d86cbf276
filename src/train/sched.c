/* Learning-rate schedules, evaluated per optimizer step: an optional linear warmup, then
 * constant, cosine annealing to min_lr (over the steps after warmup), or multi-step decay
 * (lr *= gamma at each milestone epoch). */
#include "axnn/train.h"

#include <math.h>

const char *axnn_sched_kind_name(axnn_sched_kind k)
{
    return k == AXNN_SCHED_COSINE ? "cosine" : k == AXNN_SCHED_MULTISTEP ? "multistep" : "constant";
}

float axnn_sched_lr(const axnn_sched_cfg *s, float base_lr, int64_t step, int64_t total,
                    int64_t steps_per_epoch)
{
    int64_t warm = (int64_t)llround((double)s->warmup_epochs * (double)steps_per_epoch);
    if (step < warm) {
        double f = s->warmup_start + (1.0 - s->warmup_start) * (double)step / (double)warm;
        return (float)(base_lr * f);
    }
    switch (s->kind) {
    case AXNN_SCHED_COSINE: {
        int64_t span = total - warm;
        double t = span > 0 ? (double)(step - warm) / (double)span : 1.0;
        if (t > 1.0) t = 1.0;
        return (float)(s->min_lr + 0.5 * (base_lr - s->min_lr) * (1.0 + cos(M_PI * t)));
    }
    case AXNN_SCHED_MULTISTEP: {
        double lr = base_lr;
        int64_t epoch = steps_per_epoch > 0 ? step / steps_per_epoch : 0;
        for (int i = 0; i < s->nmilestones; i++)
            if (epoch >= s->milestones[i]) lr *= s->gamma;
        return (float)lr;
    }
    case AXNN_SCHED_CONSTANT: break;
    }
    return base_lr;
}
