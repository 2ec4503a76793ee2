/* libFuzzer target: arbitrary bytes as a persisted task file. A state file can be truncated
 * or corrupted on disk; loading it must never crash or leak, and a task it accepts must
 * serialise again, identically once it has been through the writer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecs/depgraph.h"
#include "ecs/jsonutil.h"
#include "ecs/task_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_object *o = NULL, *o2 = NULL, *o3 = NULL;
        struct ecs_task *t = NULL, *u = NULL;
        char *err = NULL, *s2, *s3;

        if (json_parse((const char *)data, size, &o) < 0)
                return 0;
        if (task_from_json(o, &t, &err) < 0) {
                free(err);
                json_object_put(o);
                return 0;
        }
        if (err)
                abort(); /* an error text only with an error */
        /* Accepted means writable, and the written form is a fixed point. */
        if (task_to_json(t, &o2) < 0)
                abort();
        s2 = json_dump(o2);
        if (!s2 || task_from_json(o2, &u, NULL) < 0 || task_to_json(u, &o3) < 0)
                abort();
        s3 = json_dump(o3);
        if (!s3 || strcmp(s2, s3) != 0)
                abort();
        /* The dependency graph must cope with whatever a loaded task holds. */
        char *e = NULL;
        if (depgraph_validate(t, &e) == 0)
                for (size_t i = 0; i < t->n_containers; i++) {
                        char *r = NULL;
                        depgraph_can_transition(t, i, CONTAINER_STATUS_CREATED, 1, &r);
                        free(r);
                        r = NULL;
                        depgraph_can_transition(t, i, CONTAINER_STATUS_STOPPED, 1, &r);
                        free(r);
                }
        free(e);
        (void)depgraph_next_deadline(t);
        free(s2);
        free(s3);
        json_object_put(o);
        json_object_put(o2);
        json_object_put(o3);
        ecs_task_unref(t);
        ecs_task_unref(u);
        return 0;
}
