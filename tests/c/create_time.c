/* Time smw_renderer_create: the first call in a fresh process and a second one, and the
 * resident memory (VmRSS) before and with one default renderer (64 sources, 3-degree table).
 * usage: create_time [--tdw-only] */
#include "common.h"

static long rss_kb(void)
{
    FILE* f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

int main(int argc, char** argv)
{
    smw_renderer_settings s = smw_renderer_settings_default();
    s.max_block_frames = 512;
    s.enable_corrector = want_corrector(argc, argv);
    smw_renderer *a = NULL, *b = NULL;
    long rss0 = rss_kb();
    double t0 = t_now();
    smw_result ra = smw_renderer_create(&s, &a);
    double t1 = t_now();
    long rss1 = rss_kb();
    smw_result rb = smw_renderer_create(&s, &b);
    double t2 = t_now();
    if (ra || rb) { printf("create failed: %s\n", smw_last_error(NULL)); return 1; }
    printf("FIRST_CREATE_S %.4f\nSECOND_CREATE_S %.4f\n", t1 - t0, t2 - t1);
    printf("RSS_BEFORE_KB %ld\nRSS_ONE_RENDERER_KB %ld\n", rss0, rss1);
    smw_renderer_destroy(a);
    smw_renderer_destroy(b);
    return 0;
}
