/* GET /images/json: the images on the host, for image cleanup (§9.1). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "docker-internal.h"
#include "ecs/docker.h"
#include "ecs/jsonutil.h"
#include "ecs/macro.h"

#define USEC_PER_SEC 1000000ULL

void docker_image_list_free(struct docker_image *l, size_t n)
{
        for (size_t i = 0; l && i < n; i++) {
                free(l[i].id);
                strv_free(l[i].repo_tags);
                strv_free(l[i].repo_digests);
                free(l[i].os);
                free(l[i].architecture);
        }
        free(l);
}

static int entry_from_json(json_object *o, struct docker_image *img)
{
        int64_t created;

        if (!json_object_is_type(o, json_type_object) || isempty(json_get_string(o, "Id", NULL)))
                return -EBADMSG;
        if (docker_strdup_member(o, "Id", false, &img->id) < 0 ||
            docker_strv_from_json(json_get_array(o, "RepoTags", NULL), &img->repo_tags) < 0 ||
            docker_strv_from_json(json_get_array(o, "RepoDigests", NULL), &img->repo_digests) < 0)
                return -ENOMEM;
        /* Here Created is epoch seconds, not the RFC 3339 string of an inspect. */
        created = json_get_int(o, "Created", 0, NULL);
        img->created_usec = created > 0 ? (uint64_t)created * USEC_PER_SEC : 0;
        img->size = json_get_int(o, "Size", 0, NULL);
        return 0;
}

int docker_image_list_parse(const char *body, size_t len, struct docker_image **ret, size_t *ret_n)
{
        _cleanup_json_ json_object *arr = NULL;
        struct docker_image *l;
        size_t n;
        int r;

        r = json_parse(body, len, &arr);
        if (r < 0)
                return r;
        if (!json_object_is_type(arr, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(arr);
        l = calloc(n ? n : 1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = entry_from_json(json_object_array_get_idx(arr, i), &l[i]);
                if (r < 0) {
                        docker_image_list_free(l, n);
                        return r;
                }
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

static void image_list_finish(struct docker_call *c, const struct ecs_http_response *resp,
                              struct docker_result *res)
{
        struct docker_image *l = NULL;
        size_t n = 0;

        if (res->error == 0) {
                int r = docker_image_list_parse(resp->body, resp->body_len, &l, &n);
                if (r < 0) {
                        res->error = r;
                        res->message = "Invalid image list answer from Docker";
                }
        }
        ((docker_image_list_fn)c->cb)(res, l, n, c->userdata);
        docker_image_list_free(l, n);
}

int docker_image_list(struct docker_client *client, uint64_t timeout_usec, docker_image_list_fn cb,
                      void *userdata, struct docker_call **ret)
{
        struct docker_request req = {
            .path = "/images/json",
            .timeout_usec = timeout_usec ? timeout_usec : DOCKER_TIMEOUT_DEFAULT,
            .max_response = DOCKER_MAX_LIST,
        };
        return docker_call_start(client, &req, image_list_finish, (void (*)(void))cb, userdata,
                                 ret);
}
