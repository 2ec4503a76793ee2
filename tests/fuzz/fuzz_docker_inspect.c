/* libFuzzer target for what the Docker daemon sends us: container and image inspect
 * documents, and the event / progress streams cut into chunks at fuzzer-chosen places. */
#include <stddef.h>
#include <stdint.h>

#include "ecs/docker.h"
#include "ecs/macro.h"

static int on_object(json_object *obj, void *userdata)
{
        struct docker_progress *p = userdata;
        struct docker_event *e = NULL;

        if (docker_event_from_json(obj, &e) >= 0) {
                (void)docker_event_attribute(e, "exitCode");
                docker_event_free(e);
        }
        return docker_progress_parse(p, obj) < 0 ? -ENOMEM : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct docker_container *c = NULL;
        struct docker_image *img = NULL;
        struct docker_json_stream *s = NULL;
        struct docker_progress p = {};
        uint64_t t;

        if (docker_container_parse((const char *)data, size, &c) >= 0) {
                (void)docker_container_label(c, "com.amazonaws.ecs.task-arn");
                docker_container_free(c);
        }
        if (docker_image_parse((const char *)data, size, &img) >= 0)
                docker_image_free(img);

        /* The first byte picks the chunk size for the stream. */
        if (size > 0 && docker_json_stream_new(4096, &s) >= 0) {
                size_t chunk = (size_t)data[0] % 17 + 1;
                for (size_t off = 1; off < size; off += chunk)
                        if (docker_json_stream_feed(s, (const char *)data + off,
                                                    MIN(chunk, size - off), on_object, &p) < 0)
                                break;
                docker_json_stream_free(s);
                docker_progress_done(&p);
        }

        /* Short inputs also exercise the small text parsers. */
        if (size < 256) {
                char buf[256];
                struct docker_image_ref ref = {};
                memcpy(buf, data, size);
                buf[size] = 0;
                (void)docker_time_parse(buf, &t);
                if (docker_image_ref_parse(buf, &ref) >= 0)
                        docker_image_ref_done(&ref);
                free(docker_error_message(buf, size));
        }
        return 0;
}
