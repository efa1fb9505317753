/* Time smw_renderer_create: the first call in the process (Python start-up + kernel
 * compile or cache load) and a second one (warm process).
 * usage: create_time [--tdw-only]   (set NUMBA_CACHE_DIR to an empty dir for a cold cache) */
#include "common.h"

int main(int argc, char** argv)
{
    smw_renderer_settings s = smw_renderer_settings_default();
    s.max_block_frames = 512;
    s.enable_corrector = want_corrector(argc, argv);
    smw_renderer *a = NULL, *b = NULL;
    double t0 = t_now();
    smw_result ra = smw_renderer_create(&s, &a);
    double t1 = t_now();
    smw_result rb = smw_renderer_create(&s, &b);
    double t2 = t_now();
    if (ra || rb) { printf("create failed: %s\n", smw_last_error(NULL)); return 1; }
    printf("FIRST_CREATE_S %.3f\nSECOND_CREATE_S %.3f\n", t1 - t0, t2 - t1);
    smw_renderer_destroy(a);
    smw_renderer_destroy(b);
    return 0;
}
