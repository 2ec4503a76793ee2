/* GET /images/json: the images on the host, for image cleanup (§9.1). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "docker-internal.h"
#include "ecs/docker.h"
#include "ecs/jsonutil.h"
#include "ecs/loop.h"
#include "ecs/macro.h"

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

static void list_free(void *list, size_t n)
{
        docker_image_list_free(list, n);
}

static int entry_from_json(json_object *o, void *elem)
{
        struct docker_image *img = elem;
        int64_t created;

        if (isempty(json_get_string(o, "Id", NULL)))
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
        return docker_list_parse(body, len, sizeof(**ret), entry_from_json, list_free, (void **)ret,
                                 ret_n);
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
