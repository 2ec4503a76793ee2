/* Task ENI attachments (§2.9, §6.4): after AttachTaskNetworkInterfacesMessage the agent waits
 * for a link with the ENI's MAC to appear on the host and reports the attachment ATTACHED
 * (SubmitTaskStateChange with attachments); ECS sends the task's payload only after that.
 * Expectations expire after the message's waitTimeoutMs. */
#pragma once

#include <stdint.h>

struct ecs_loop;
struct awsjson_client;
struct eniwatch;

int eniwatch_new(struct ecs_loop *loop, struct awsjson_client *ecs, const char *cluster,
                 struct eniwatch **ret);
struct eniwatch *eniwatch_free(struct eniwatch *w);
/* Expects mac for the task; a repeated message for the same attachment reports it again
 * once the link is there. -EINVAL for a malformed MAC. */
int eniwatch_expect(struct eniwatch *w, const char *task_arn, const char *attachment_arn,
                    const char *mac, uint64_t timeout_usec);
