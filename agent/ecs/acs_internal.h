/* Private to the ACS codec (acs_*.c): the tables shared by the message and payload decoders. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ecs/acs_codec.h"
#include "ecs/jsonmap.h"
#include "ecs/jsonutil.h"
#include "ecs/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct ecs_task *, ecs_task_unref)

/* What any ACS member may hold (acs_codec.h). */
extern const struct jsonmap_limits acs_limits;

/* roleCredentials-shaped object; credentialsId required, the others "" when absent. */
extern const struct jsonmap_type acs_credentials_type;
/* ElasticNetworkInterface, validated like the official ValidateENI. */
extern const struct jsonmap_type acs_eni_type;

/* The members of a PayloadMessage; each task is decoded on its own, so that a bad task fails
 * alone. */
int acs_decode_payload(struct jsonmap_ctx *c, json_object *msg, struct acs_payload_message *ret);
void acs_payload_message_done(struct acs_payload_message *p);
