/* The process of an awsvpc task's pause container: it holds the task's network namespace
 * (the one the ENI is moved into) for the task's lifetime and does nothing else. Built
 * static, it is the only file of the pause image. It reaps children it inherits and exits
 * 0 on SIGTERM or SIGINT, so "docker stop" needs no SIGKILL. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
        sigset_t set;
        int sig;

        if (argc > 1) {
                fprintf(stderr, "usage: %s (takes no arguments)\n", argv[0]);
                return 2;
        }
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
                perror("sigprocmask");
                return 1;
        }
        for (;;) {
                if (sigwait(&set, &sig) != 0)
                        continue;
                if (sig != SIGCHLD)
                        return 0;
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
        }
}
