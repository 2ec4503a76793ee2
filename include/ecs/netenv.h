/* How the agent reaches the outside world: which HTTP proxy a URL goes through (HTTP_PROXY,
 * HTTPS_PROXY, NO_PROXY, as Go's net/http reads them for the official agent) and URLs made
 * fit for a log line (no credentials, no path or query). Pure functions: the loop applies
 * the answers to each transfer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct ecs_proxy_config {
        const char *http_proxy;  /* for http:// and ws:// URLs; NULL = none */
        const char *https_proxy; /* for https:// and wss:// URLs; NULL = none */
        const char *no_proxy;    /* comma-separated exclusions; NULL = none */
};

/* The proxy url should go through, or NULL for a direct connection: none configured for its
 * scheme, its host in NO_PROXY, or not a URL we understand. */
const char *ecs_proxy_for_url(const struct ecs_proxy_config *p, const char *url);

/* Whether host (a name, an IPv4 address, or an IPv6 address with or without brackets) on
 * port is excluded by a NO_PROXY list. Entries: "*" (everything), a host or domain name
 * ("example.com" and ".example.com" both match the name and its subdomains), an IP address,
 * a CIDR block ("10.0.0.0/8", "fd00::/8"); each may end in ":port". */
bool ecs_no_proxy_match(const char *no_proxy, const char *host, unsigned port);

/* url with the password of its user information replaced by "***", into buf. */
void ecs_url_redact(const char *url, char *buf, size_t size);

/* scheme://host[:port] of url, without user information, path or query, into buf. */
void ecs_url_origin(const char *url, char *buf, size_t size);
