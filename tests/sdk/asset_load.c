/* The C model-asset loader on hostile files (tests/test_asset.py, built with ASan/UBSan):
 * creates a renderer from each file named on stdin (one path a line) and prints
 * "<path> <result> <smw_last_error>"; a renderer that was created is destroyed at once.
 * Every file must give SMW_SUCCESS or SMW_ERROR_MODEL_LOAD with a message. */
#include <spatialmw.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    char path[4096];
    while (fgets(path, sizeof path, stdin)) {
        path[strcspn(path, "\n")] = 0;
        smw_renderer_settings s = smw_renderer_settings_default();
        s.max_sources = 2;
        s.max_block_frames = 256;
        s.corrector_table_step_deg = 30.0f;   /* small table: thousands of files */
        s.model_path = path;
        smw_renderer* r = NULL;
        smw_result rc = smw_renderer_create(&s, &r);
        printf("%s %d %s\n", path, (int)rc, rc ? smw_last_error(NULL) : "");
        fflush(stdout);
        smw_renderer_destroy(r);
    }
    return 0;
}
