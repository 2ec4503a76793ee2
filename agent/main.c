/* Placeholder entry point; wired up with the agent core. */
#include <stdio.h>

int main(void)
{
        printf("ecs-agent %s (%s)\n", ECS_AGENT_VERSION, ECS_AGENT_GIT_HASH);
        return 0;
}
