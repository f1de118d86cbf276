/* AVX2 activation kernels: act-simd.h over 8-lane vectors (see act.h). */
#include "kernels/act/act.h"

#include <immintrin.h>

typedef __m256 V;
#define W 8
#define NAME "avx2"
#define ACT_TABLE axnn_act_avx2
#define VSET1 _mm256_set1_ps
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMUL _mm256_mul_ps
#define VDIV _mm256_div_ps
#define VMIN _mm256_min_ps
#define VMAX _mm256_max_ps
#define VROUND(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

static inline __m256i tail_mask(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define VLOADN(p, n) _mm256_maskload_ps(p, tail_mask(n))
#define VSTOREN(p, n, v) _mm256_maskstore_ps(p, tail_mask(n), v)
/* p * 2^n for integral n in [-126, 127] (the clamp in vexp keeps it there) */
static inline V scale2n(V p, V n)
{
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
#define VSCALE2N scale2n
#define VABS(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x)
#define VCOPYSIGN(m, s) _mm256_or_ps(VABS(m), _mm256_and_ps(_mm256_set1_ps(-0.0f), s))
#define VSELECT_LT(a, b, t, f) _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_LT_OQ))
#define VSELECT_GE0(x, t, f)                                                                       \
    _mm256_blendv_ps(f, t, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ))

#include "kernels/act/act-simd.h"
