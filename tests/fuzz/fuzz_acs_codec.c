/* libFuzzer target: arbitrary bytes into the ACS decoder (everything ACS sends goes through
 * it). It must never crash or leak; decoded messages are also re-encoded where the session
 * would answer, so the encoders see hostile strings too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ecs/acs_codec.h"

static void exercise(const struct acs_message *m)
{
        char *s = NULL;

        switch (m->type) {
        case ACS_MSG_PAYLOAD:
                if (acs_encode_ack(m->payload.cluster_arn, m->payload.container_instance_arn,
                                   m->payload.message_id, &s) == 0)
                        free(s);
                for (size_t i = 0; i < m->payload.n_tasks; i++) {
                        const struct acs_payload_task *t = &m->payload.tasks[i];
                        /* Exactly one of task / error. */
                        if (!t->task == !t->error)
                                abort();
                        if (t->role_credentials.credentials_id &&
                            acs_encode_credentials_ack(m->payload.message_id,
                                                       t->role_credentials.expiration,
                                                       t->role_credentials.credentials_id, &s) == 0)
                                free(s);
                }
                break;
        case ACS_MSG_HEARTBEAT:
                if (acs_encode_heartbeat_ack(m->heartbeat.message_id, &s) == 0)
                        free(s);
                break;
        case ACS_MSG_TASK_MANIFEST:
                if (acs_encode_stop_verification(m->manifest.message_id, m->manifest.tasks,
                                                 m->manifest.n_tasks, &s) == 0)
                        free(s);
                break;
        case ACS_MSG_STAGE_UPDATE:
        case ACS_MSG_PERFORM_UPDATE:
                if (acs_encode_nack(m->update.cluster_arn, m->update.container_instance_arn,
                                    m->update.message_id, "Updates are disabled", &s) == 0)
                        free(s);
                break;
        default:
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct acs_message m;
        struct acs_error err;

        if (acs_decode((const char *)data, size, &m, &err) < 0)
                return 0;
        exercise(&m);
        acs_message_done(&m);
        return 0;
}
