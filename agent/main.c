/* ecs-agent: argv, configuration, logging, signals, and the event loop. */
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "ecs/config.h"
#include "ecs/endpoints.h"
#include "ecs/instance.h"
#include "ecs/log.h"
#include "ecs/loop.h"
#include "ecs/netenv.h"

struct app {
        struct ecs_loop *loop;
        const struct ecs_config *config;
        struct ecs_instance *instance;
        struct endpoints *endpoints;
        sd_event_source *watchdog;
        uint64_t watchdog_usec;
};

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: ecs-agent [OPTIONS]\n"
                "Amazon ECS container agent.\n\n"
                "  -c, --config FILE   configuration file (default %s, after %s)\n"
                "      --check-config  validate the configuration, print it (secrets\n"
                "                      redacted) and exit\n"
                "  -k                  do not verify TLS certificates of the control plane\n"
                "      --healthcheck   ask the running agent's introspection API whether it is\n"
                "                      up (ECS_AGENT_HEALTHCHECK_HOST:51678); exit 0 or 1\n"
                "  -v, --version       print the version and exit\n"
                "  -h, --help          this text\n",
                ECS_CONFIG_DEFAULT_PATH, ECS_CONFIG_INSTANCE_DEFAULT_PATH);
}

static void on_status(struct ecs_instance *inst, bool ready, const char *status, void *ud)
{
        if (ready)
                (void)sd_notifyf(false, "READY=1\nSTATUS=%s", status);
        else
                (void)sd_notifyf(false, "STATUS=%s", status);
}

/* The engine is up: the credentials, metadata and introspection endpoints start. Failing to
 * listen costs those features, not the agent. */
static void on_services(struct ecs_instance *inst, const struct ecs_instance_services *svc,
                        void *ud)
{
        struct app *app = ud;
        struct endpoints_params ep = {
            .loop = app->loop,
            .config = app->config,
            .engine = svc->engine,
            .credstore = svc->credstore,
            .ecs = svc->ecs,
            .identity = {svc->cluster, svc->container_instance_arn, svc->region,
                         svc->availability_zone},
        };
        int r = endpoints_new(&ep, &app->endpoints);
        if (r < 0)
                log_warning_errno(r, "The agent's HTTP endpoints are unavailable: %m");
}

/* --healthcheck: GET /v1/metadata from the introspection API, as the official binary's flag
 * does for Docker's HEALTHCHECK; 200 is healthy. Blocking is fine here: nothing else runs. */
static int healthcheck(const char *host)
{
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
        char req[512], buf[64] = "";
        int fd = -EBADF, ok = 0;

        if (getaddrinfo(host, "51678", &hints, &ai) != 0)
                return ECS_EXIT_ERROR;
        for (struct addrinfo *a = ai; a && !ok; a = a->ai_next) {
                struct timeval tv = {.tv_sec = 5};
                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
                if (fd < 0)
                        continue;
                (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                int n = snprintf(
                    req, sizeof(req),
                    "GET /v1/metadata HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host);
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 && n > 0 &&
                    send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
                        ssize_t k = recv(fd, buf, sizeof(buf) - 1, MSG_WAITALL);
                        buf[k > 0 ? k : 0] = 0;
                        ok = strncmp(buf, "HTTP/1.1 200 ", 13) == 0;
                }
                fd = safe_close(fd);
        }
        freeaddrinfo(ai);
        fprintf(ok ? stdout : stderr, "ecs-agent: %s\n", ok ? "healthy" : "unhealthy");
        return ok ? ECS_EXIT_SUCCESS : ECS_EXIT_ERROR;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *ud)
{
        struct app *app = ud;

        /* Tasks keep running: a restarted agent adopts them. */
        log_info("Received %s; stopping the agent, tasks keep running",
                 si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        (void)sd_notify(false, "STOPPING=1");
        ecs_instance_shutdown(app->instance);
        ecs_loop_exit(app->loop, ECS_EXIT_SUCCESS);
        return 0;
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *ud)
{
        struct app *app = ud;

        (void)sd_notify(false, "WATCHDOG=1");
        (void)sd_event_source_set_time(s, usec + app->watchdog_usec / 2);
        (void)sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

/* One line an operator can check the network setup by; proxy passwords hidden. */
static void log_network(const struct ecs_config *c, const struct ecs_loop_network *n)
{
        char http[512], https[512];

        ecs_url_redact(n->http_proxy, http, sizeof(http));
        ecs_url_redact(n->https_proxy, https, sizeof(https));
        if (n->http_proxy || n->https_proxy)
                log_info("Proxies: http %s, https %s; direct: NO_PROXY (%s), the Docker socket, "
                         "IMDS, 169.254.170.2",
                         n->http_proxy ? http : "none", n->https_proxy ? https : "none",
                         strna(c->no_proxy));
        if (n->ca_file || n->ca_dir)
                log_info("TLS trusts %s%s%s instead of the system store", strempty(n->ca_file),
                         n->ca_file && n->ca_dir ? " and " : "", strempty(n->ca_dir));
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'C'},
            {"healthcheck", no_argument, NULL, 'H'},  {"version", no_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},         {},
        };
        const char *config_path = NULL;
        bool check_config = false, insecure = false, health = false;
        struct ecs_config config = {0};
        struct ecs_config_error err = {0};
        struct app app = {0};
        int c, r;

        while ((c = getopt_long(argc, argv, "c:kvh", opts, NULL)) >= 0)
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'C':
                        check_config = true;
                        break;
                case 'H':
                        health = true;
                        break;
                case 'k':
                        insecure = true;
                        break;
                case 'v':
                        printf("Amazon ECS Agent - v%s (%s) [ecs-agent in C]\n", ECS_AGENT_VERSION,
                               ECS_AGENT_GIT_HASH);
                        return ECS_EXIT_SUCCESS;
                case 'h':
                        usage(stdout);
                        return ECS_EXIT_SUCCESS;
                default:
                        usage(stderr);
                        return ECS_EXIT_TERMINAL;
                }
        if (optind < argc) {
                fprintf(stderr, "Unexpected argument: %s\n", argv[optind]);
                return ECS_EXIT_TERMINAL;
        }

        r = ecs_config_load(config_path, NULL, &config, &err);
        if (r < 0) {
                /* A half-configured agent is worse than none: terminal, as the official
                 * agent treats configuration errors. */
                fprintf(stderr, "ecs-agent: configuration error: %s\n", err.message);
                return ECS_EXIT_TERMINAL;
        }
        if (health) {
                r = healthcheck(config.healthcheck_host);
                ecs_config_done(&config);
                return r;
        }
        if (check_config) {
                ecs_config_dump(&config, stdout);
                ecs_config_done(&config);
                return ECS_EXIT_SUCCESS;
        }

        log_set_max_level(config.log_level);
        r = log_open(config.log_file);
        if (r < 0) {
                fprintf(stderr, "ecs-agent: cannot open log file %s: %s\n", config.log_file,
                        strerror(-r));
                ecs_config_done(&config);
                return ECS_EXIT_TERMINAL;
        }
        log_info("Starting Amazon ECS Agent v%s (%s), cluster %s", ECS_AGENT_VERSION,
                 ECS_AGENT_GIT_HASH, config.cluster);

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        /* Room for the endpoints' connections (up to 1024 per server) besides Docker's and
         * the sessions': the soft limit up to the hard one, as systemd suggests. */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
                nofile.rlim_cur = nofile.rlim_max < 65536 ? nofile.rlim_max : 65536;
                (void)setrlimit(RLIMIT_NOFILE, &nofile);
        }

        app.config = &config;
        r = ecs_loop_new(&app.loop);
        if (r < 0) {
                log_error_errno(r, "Failed to create the event loop: %m");
                goto finish;
        }
        ecs_loop_set_insecure(app.loop, insecure);
        struct ecs_loop_network net = {
            .http_proxy = config.http_proxy,
            .https_proxy = config.https_proxy,
            .no_proxy = config.no_proxy,
            .ca_file = config.ca_file,
            .ca_dir = config.ssl_cert_dir,
        };
        r = ecs_loop_set_network(app.loop, &net);
        if (r < 0) {
                log_error_errno(r, "Failed to set up networking: %m");
                goto finish;
        }
        log_network(&config, &net);
        sd_event *ev = ecs_loop_event(app.loop);
        if (sd_event_add_signal(ev, NULL, SIGTERM, on_signal, &app) < 0 ||
            sd_event_add_signal(ev, NULL, SIGINT, on_signal, &app) < 0) {
                r = log_error_errno(EIO, "Failed to watch signals");
                goto finish;
        }
        if (sd_watchdog_enabled(false, &app.watchdog_usec) > 0 && app.watchdog_usec > 0)
                (void)sd_event_add_time_relative(ev, &app.watchdog, CLOCK_MONOTONIC,
                                                 app.watchdog_usec / 2, 0, on_watchdog, &app);

        struct ecs_instance_params ip = {
            .loop = app.loop,
            .config = &config,
            .on_status = on_status,
            .on_services = on_services,
            .userdata = &app,
        };
        r = ecs_instance_new(&ip, &app.instance);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the agent: %m");
                goto finish;
        }
        r = ecs_instance_start(app.instance);
        if (r < 0) {
                log_error_errno(r, "Failed to start the agent: %m");
                goto finish;
        }
        r = ecs_loop_run(app.loop);
        log_info("Agent exiting with code %d", r);

finish:
        app.endpoints = endpoints_free(app.endpoints);
        app.instance = ecs_instance_free(app.instance);
        sd_event_source_disable_unref(app.watchdog);
        app.loop = ecs_loop_free(app.loop);
        ecs_config_done(&config);
        log_close();
        if (r < 0)
                return ECS_EXIT_ERROR;
        return r;
}
