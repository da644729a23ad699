/*
 * mod_palisade: Palisade's native module for Apache httpd 2.4.
 *
 * For every request of a vhost or directory with "Palisade On" it asks
 * Palisade (GET /forward-auth/apache, the header contract in
 * docs/INTEGRATIONS.md) whether to serve it, over keep-alive connections
 * that each Apache process keeps open, and acts on the answer: 200 serves
 * the request, a verdict (403 with Palisade's deny or challenge page, 302
 * for a redirect rule) goes to the visitor as Palisade wrote it, and no
 * answer (down, too slow, 5xx) serves or refuses (503) as the site chose:
 * PalisadeFailMode, else what Palisade last said for the site
 * (X-Palisade-Fail-Mode, remembered in memory shared by Apache's
 * processes), else open.
 *
 * Build and install (Debian: apt-get install apache2-dev):
 *   apxs -i -a -c mod_palisade.c
 * Configuration: deploy/apache/palisade-module.conf.
 *
 * Trust: the verdict request carries the contract's headers, set here from
 * Apache's own view of the request (the method, the URI as the client sent
 * it, the host, the protocol, r->useragent_ip, so mod_remoteip is honoured);
 * a visitor's own X-Original-*, X-Real-IP and X-Palisade-* are dropped, as
 * are hop-by-hop and framing headers; no value may carry CR, LF or NUL.
 *
 * Works with mpm_event, mpm_worker and mpm_prefork: the idle connections
 * are a per-process pool behind a mutex.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "apr_strings.h"
#include "apr_shm.h"
#include "apr_time.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

module AP_MODULE_DECLARE_DATA palisade_module;

#define PAL_HEAD_MAX (16 * 1024)        /* the answer's status line and headers */
#define PAL_BODY_MAX (64 * 1024)        /* the answer's body (the page) */
#define PAL_BUF_CAP (PAL_HEAD_MAX + PAL_BODY_MAX + 64 * 16)     /* room for chunk framing */
#define PAL_MAX_HEADERS 64
#define PAL_POOL_MAX 128                /* idle connections kept per process and Palisade */
#define PAL_IDLE_MAX apr_time_from_sec(50)      /* Palisade closes idle ones after 120 s */
#define PAL_LOG_EVERY apr_time_from_sec(10)
#define PAL_DEFAULT_TIMEOUT_MS 300
#define PAL_PATH "/forward-auth/apache"
#define PAL_CACHE_SLOTS 1024            /* cached grants per threaded process (a power of two) */
#define PAL_CACHE_SLOTS_PREFORK 64      /* per process of a non-threaded MPM (many processes) */
#define PAL_CACHE_KEY_MAX 4096          /* a longer verdict request is never cached */
#define PAL_CACHE_TTL_MAX 60            /* seconds; Palisade's MaxGrantCache */
#define PAL_REASON_MAX 48               /* a cached grant's X-Palisade-Reason, NUL included */
#define PAL_KEY_MAX 200                 /* PalisadeKey's length */
#define PAL_REPORT_PORT "9514"          /* palisade serve --reuse-addr's default port */
#define PAL_TALLY_SLOTS 256             /* (key, reason) pairs counted between reports (a power of two) */
#define PAL_REPORT_EVERY apr_time_from_sec(1)
#define PAL_REPORT_DGRAM 8192           /* bytes of one report datagram at most */
#define PAL_REPORT_MAX_COUNT 1000000    /* per line; events.MaxReusedReport */

enum { FAIL_UNSET = -1, FAIL_OPEN = 0, FAIL_CLOSED = 1 };

/* A connection to Palisade, with its own read buffer. */
typedef struct pal_conn {
    int fd;
    apr_time_t last_used;
    size_t len;                 /* bytes in buf */
    char *buf;                  /* PAL_BUF_CAP + 1; the answer's headers point into it, so
                                 * it never moves (pages a grant does not touch stay unused) */
} pal_conn;

/* One Palisade address and this process's idle connections to it. */
typedef struct pal_upstream {
    struct pal_upstream *next;
    const char *hostport;       /* as written in PalisadeURL, for Host: */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    pthread_mutex_t mu;
    int nidle;
    pal_conn *idle[PAL_POOL_MAX];
    apr_time_t last_log;        /* last "unreachable" log line */
} pal_upstream;

/* Reused grants counted since the last report, per (server key, reason). */
typedef struct {
    const char *key;            /* the vhost's PalisadeKey (pconf); NULL: a free slot */
    char reason[PAL_REASON_MAX];
    apr_int64_t count;
} pal_tally;

/* Where reused grants are reported (PalisadeReuseReport), and this
 * process's tally of them. */
typedef struct pal_reporter {
    struct pal_reporter *next;
    const char *hostport;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int fd;                     /* this process's UDP socket; -1 none yet */
    pthread_mutex_t mu;
    int n;                      /* used slots of tally */
    apr_time_t last_flush;
    apr_time_t last_log;        /* last "cannot report" log line */
    pal_tally tally[PAL_TALLY_SLOTS];
} pal_reporter;

typedef struct {
    pal_upstream *up;
    const char *key;
    int timeout_ms;             /* -1 unset */
    int fail_mode;              /* configured; FAIL_UNSET: learned, else open */
    int slot;                   /* this server's cell in the learned fail modes */
    pal_reporter *rep;          /* where its reused grants are reported */
    int report;                 /* -1 unset (PalisadeURL's host, port 9514), 0 off, 1 rep */
} pal_server_conf;

typedef struct {
    int on;                     /* -1 unset */
} pal_dir_conf;

/* The upstreams of the current configuration (allocated in pconf). */
static pal_upstream *upstreams;
/* The report addresses of the current configuration (pconf). */
static pal_reporter *reporters;
/* What Palisade last said of each server's site, shared by all processes:
 * 0 unknown, 1 open, 2 closed. */
static apr_shm_t *learned_shm;
static volatile int *learned;
static int nslots;

/* ---------------------------------------------------------------- config */

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    pal_server_conf *c = apr_pcalloc(p, sizeof(*c));
    (void)s;
    c->timeout_ms = -1;
    c->fail_mode = FAIL_UNSET;
    c->slot = -1;
    c->report = -1;
    return c;
}

static void *merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    pal_server_conf *base = basev, *add = addv;
    pal_server_conf *c = apr_pcalloc(p, sizeof(*c));
    c->up = add->up ? add->up : base->up;
    c->key = add->key ? add->key : base->key;
    c->timeout_ms = add->timeout_ms >= 0 ? add->timeout_ms : base->timeout_ms;
    c->fail_mode = add->fail_mode != FAIL_UNSET ? add->fail_mode : base->fail_mode;
    c->report = add->report >= 0 ? add->report : base->report;
    c->rep = add->report >= 0 ? add->rep : base->rep;
    c->slot = -1;
    return c;
}

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    pal_dir_conf *c = apr_pcalloc(p, sizeof(*c));
    (void)dir;
    c->on = -1;
    return c;
}

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    pal_dir_conf *base = basev, *add = addv;
    pal_dir_conf *c = apr_pcalloc(p, sizeof(*c));
    c->on = add->on >= 0 ? add->on : base->on;
    return c;
}

static apr_status_t forget_upstreams(void *data)
{
    (void)data;
    upstreams = NULL;
    reporters = NULL;
    learned = NULL;
    learned_shm = NULL;
    return APR_SUCCESS;
}

/* upstream_for parses "http://host:port[/]" (or "host:port") and returns the
 * upstream for it, shared by every server naming the same address. */
static const char *upstream_for(apr_pool_t *p, const char *url, pal_upstream **out)
{
    const char *hp = url, *host, *port;
    char *h, *slash;
    struct addrinfo hints, *res = NULL;
    pal_upstream *u;
    int rc;

    if (strncasecmp(hp, "https://", 8) == 0)
        return "PalisadeURL: https is not supported; ask Palisade over loopback or a private network with http://";
    if (strncasecmp(hp, "http://", 7) == 0)
        hp += 7;
    h = apr_pstrdup(p, hp);
    if ((slash = strchr(h, '/')) != NULL) {
        if (slash[1] != '\0')
            return "PalisadeURL takes an address only (http://127.0.0.1:8080), no path";
        *slash = '\0';
    }
    for (u = upstreams; u; u = u->next) {
        if (strcmp(u->hostport, h) == 0) {
            *out = u;
            return NULL;
        }
    }
    if (h[0] == '[') {
        char *end = strchr(h, ']');
        if (!end || end[1] != ':')
            return "PalisadeURL: write an IPv6 address as http://[::1]:8080";
        host = apr_pstrndup(p, h + 1, end - h - 1);
        port = end + 2;
    }
    else {
        char *colon = strrchr(h, ':');
        if (!colon)
            return "PalisadeURL needs a port: http://127.0.0.1:8080";
        host = apr_pstrndup(p, h, colon - h);
        port = colon + 1;
    }
    if (*host == '\0' || *port == '\0' || strspn(port, "0123456789") != strlen(port))
        return apr_psprintf(p, "PalisadeURL %s: want http://host:port", url);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0 || !res)
        return apr_psprintf(p, "PalisadeURL %s: %s", url, gai_strerror(rc));
    u = apr_pcalloc(p, sizeof(*u));
    memcpy(&u->addr, res->ai_addr, res->ai_addrlen);
    u->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    u->hostport = h;
    pthread_mutex_init(&u->mu, NULL);
    if (!upstreams && !reporters)
        apr_pool_cleanup_register(p, NULL, forget_upstreams, apr_pool_cleanup_null);
    u->next = upstreams;
    upstreams = u;
    *out = u;
    return NULL;
}

/* reporter_for parses "host:port" ("[v6]:port") and returns the reporter
 * for it, shared by every server naming the same address. */
static const char *reporter_for(apr_pool_t *p, const char *hp, pal_reporter **out)
{
    const char *host, *port;
    struct addrinfo hints, *res = NULL;
    pal_reporter *r;
    int rc;

    for (r = reporters; r; r = r->next) {
        if (strcmp(r->hostport, hp) == 0) {
            *out = r;
            return NULL;
        }
    }
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (!end || end[1] != ':')
            return "PalisadeReuseReport: write an IPv6 address as [::1]:9514";
        host = apr_pstrndup(p, hp + 1, end - hp - 1);
        port = end + 2;
    }
    else {
        const char *colon = strrchr(hp, ':');
        if (!colon)
            return "PalisadeReuseReport needs a port: 127.0.0.1:9514 (or off)";
        host = apr_pstrndup(p, hp, colon - hp);
        port = colon + 1;
    }
    if (*host == '\0' || *port == '\0' || strspn(port, "0123456789") != strlen(port))
        return apr_psprintf(p, "PalisadeReuseReport %s: want host:port or off", hp);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0 || !res)
        return apr_psprintf(p, "PalisadeReuseReport %s: %s", hp, gai_strerror(rc));
    r = apr_pcalloc(p, sizeof(*r));
    memcpy(&r->addr, res->ai_addr, res->ai_addrlen);
    r->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    r->hostport = apr_pstrdup(p, hp);
    r->fd = -1;
    pthread_mutex_init(&r->mu, NULL);
    if (!upstreams && !reporters)
        apr_pool_cleanup_register(p, NULL, forget_upstreams, apr_pool_cleanup_null);
    r->next = reporters;
    reporters = r;
    *out = r;
    return NULL;
}

static const char *set_report(cmd_parms *cmd, void *dummy, const char *arg)
{
    pal_server_conf *c = ap_get_module_config(cmd->server->module_config, &palisade_module);
    (void)dummy;
    if (strcasecmp(arg, "off") == 0) {
        c->report = 0;
        c->rep = NULL;
        return NULL;
    }
    c->report = 1;
    return reporter_for(cmd->pool, arg, &c->rep);
}

static const char *set_url(cmd_parms *cmd, void *dummy, const char *arg)
{
    pal_server_conf *c = ap_get_module_config(cmd->server->module_config, &palisade_module);
    (void)dummy;
    return upstream_for(cmd->pool, arg, &c->up);
}

static const char *set_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pal_server_conf *c = ap_get_module_config(cmd->server->module_config, &palisade_module);
    (void)dummy;
    {
        const char *q;
        for (q = arg; *q; q++)
            if ((unsigned char)*q <= 32 || (unsigned char)*q >= 127)
                break;
        if (*q || !*arg || q - arg > PAL_KEY_MAX)
            return "PalisadeKey: the website's server key (server_key)";
    }
    c->key = arg;
    return NULL;
}

static const char *set_timeout(cmd_parms *cmd, void *dummy, const char *arg)
{
    pal_server_conf *c = ap_get_module_config(cmd->server->module_config, &palisade_module);
    char *end;
    long ms = strtol(arg, &end, 10);
    (void)dummy;
    if (*end == 'm' && end[1] == 's' && end[2] == '\0')
        end += 2;
    if (*end != '\0' || ms < 1 || ms > 60000)
        return "PalisadeTimeout: milliseconds for connecting and answering, 1 to 60000 (e.g. 300)";
    c->timeout_ms = (int)ms;
    return NULL;
}

static const char *set_fail_mode(cmd_parms *cmd, void *dummy, const char *arg)
{
    pal_server_conf *c = ap_get_module_config(cmd->server->module_config, &palisade_module);
    (void)dummy;
    if (strcasecmp(arg, "open") == 0)
        c->fail_mode = FAIL_OPEN;
    else if (strcasecmp(arg, "closed") == 0)
        c->fail_mode = FAIL_CLOSED;
    else
        return "PalisadeFailMode: open or closed";
    return NULL;
}

static const char *set_on(cmd_parms *cmd, void *dirv, int flag)
{
    pal_dir_conf *d = dirv;
    (void)cmd;
    d->on = flag;
    return NULL;
}

static const command_rec pal_cmds[] = {
    AP_INIT_FLAG("Palisade", set_on, NULL, RSRC_CONF | ACCESS_CONF,
                 "On: ask Palisade about every request here; Off: do not"),
    AP_INIT_TAKE1("PalisadeURL", set_url, NULL, RSRC_CONF,
                  "Palisade's address, http://host:port (default http://127.0.0.1:8080)"),
    AP_INIT_TAKE1("PalisadeKey", set_key, NULL, RSRC_CONF,
                  "the website's server key (one per VirtualHost)"),
    AP_INIT_TAKE1("PalisadeTimeout", set_timeout, NULL, RSRC_CONF,
                  "milliseconds to connect and answer, else Palisade counts as unreachable (default 300)"),
    AP_INIT_TAKE1("PalisadeFailMode", set_fail_mode, NULL, RSRC_CONF,
                  "open or closed when Palisade is unreachable (default: what Palisade last said for the site, else open)"),
    AP_INIT_TAKE1("PalisadeReuseReport", set_report, NULL, RSRC_CONF,
                  "host:port where reused grants are reported to Palisade (palisade serve --reuse-addr), or off "
                  "(default: PalisadeURL's host, port 9514)"),
    {NULL}
};

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    pal_upstream *def = NULL;
    server_rec *v;
    int n = 0;
    (void)plog;
    (void)ptemp;
    for (v = s; v; v = v->next) {
        pal_server_conf *c = ap_get_module_config(v->module_config, &palisade_module);
        if (!c->up) {
            if (!def) {
                const char *err = upstream_for(pconf, "http://127.0.0.1:8080", &def);
                if (err) {
                    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "palisade: %s", err);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
            }
            c->up = def;
        }
        if (c->report < 0) {
            /* PalisadeURL's host, Palisade's report port. */
            const char *hp = c->up->hostport, *colon = strrchr(hp, ':');
            const char *err = reporter_for(pconf, apr_pstrcat(pconf, apr_pstrndup(pconf, hp, colon - hp),
                                                              ":" PAL_REPORT_PORT, NULL), &c->rep);
            if (err) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, v, "palisade: %s", err);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        c->slot = n++;
        {
            pal_dir_conf *d = ap_get_module_config(v->lookup_defaults, &palisade_module);
            if (d && d->on == 1 && !c->key)
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, v,
                             "palisade: Palisade On for %s without a PalisadeKey: Palisade will answer 500 "
                             "(unknown key) and the site fails %s", v->server_hostname ? v->server_hostname : "a vhost",
                             c->fail_mode == FAIL_CLOSED ? "closed" : "open");
        }
    }
    nslots = n;
    /* Anonymous shared memory, inherited by the processes Apache forks. */
    if (apr_shm_create(&learned_shm, sizeof(int) * (apr_size_t)n, NULL, pconf) == APR_SUCCESS) {
        learned = apr_shm_baseaddr_get(learned_shm);
        memset((void *)learned, 0, sizeof(int) * (size_t)n);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "palisade: no shared memory; each Apache process learns the sites' fail modes itself");
        learned = apr_pcalloc(pconf, sizeof(int) * (apr_size_t)n);
    }
    return OK;
}

/* -------------------------------------------------------------- network */

static int wait_fd(int fd, short ev, apr_time_t deadline)
{
    for (;;) {
        struct pollfd pfd;
        apr_time_t now = apr_time_now();
        int n;
        if (now >= deadline)
            return ETIMEDOUT;
        pfd.fd = fd;
        pfd.events = ev;
        pfd.revents = 0;
        n = poll(&pfd, 1, (int)((deadline - now + 999) / 1000));
        if (n > 0)
            return 0;
        if (n == 0)
            return ETIMEDOUT;
        if (errno != EINTR)
            return errno;
    }
}

static void conn_close(pal_conn *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c);
}

static int conn_open(pal_upstream *u, apr_time_t deadline, pal_conn **out)
{
    int one = 1, err = 0, rc;
    socklen_t elen = sizeof(err);
    pal_conn *c;
    int fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&u->addr, u->addrlen) < 0) {
        if (errno != EINPROGRESS) {
            err = errno;
            close(fd);
            return err;
        }
        if ((rc = wait_fd(fd, POLLOUT, deadline)) != 0) {
            close(fd);
            return rc;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
            close(fd);
            return err ? err : ECONNREFUSED;
        }
    }
    c = malloc(sizeof(*c));
    if (c)
        c->buf = malloc(PAL_BUF_CAP + 1);
    if (!c || !c->buf) {
        free(c);
        close(fd);
        return ENOMEM;
    }
    c->fd = fd;
    c->len = 0;
    c->last_used = 0;
    *out = c;
    return 0;
}

/* pool_get pops a live idle connection (NULL: none). */
static pal_conn *pool_get(pal_upstream *u, apr_time_t now)
{
    pal_conn *c = NULL, *stale[PAL_POOL_MAX];
    int nstale = 0, i;
    pthread_mutex_lock(&u->mu);
    while (u->nidle > 0) {
        c = u->idle[--u->nidle];
        if (now - c->last_used < PAL_IDLE_MAX)
            break;
        stale[nstale++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&u->mu);
    for (i = 0; i < nstale; i++)
        conn_close(stale[i]);
    return c;
}

static void pool_put(pal_upstream *u, pal_conn *c)
{
    c->len = 0;
    c->last_used = apr_time_now();
    pthread_mutex_lock(&u->mu);
    if (u->nidle < PAL_POOL_MAX) {
        u->idle[u->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&u->mu);
    conn_close(c);
}

/* pool_flush closes every idle connection: one failed on reuse, so Palisade
 * has most likely restarted and the others are dead too. */
static void pool_flush(pal_upstream *u)
{
    pal_conn *all[PAL_POOL_MAX];
    int n, i;
    pthread_mutex_lock(&u->mu);
    n = u->nidle;
    memcpy(all, u->idle, sizeof(pal_conn *) * (size_t)n);
    u->nidle = 0;
    pthread_mutex_unlock(&u->mu);
    for (i = 0; i < n; i++)
        conn_close(all[i]);
}

static int send_all(pal_conn *c, const char *p, size_t n, apr_time_t deadline)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(c->fd, POLLOUT, deadline);
            if (rc)
                return rc;
            continue;
        }
        return w < 0 ? errno : EPIPE;
    }
    return 0;
}

/* fill reads more of the answer into the buffer: 0, EPIPE at the end of the
 * stream, E2BIG when the buffer is full, or an errno. wait: poll first (just
 * after sending, the answer cannot be there yet: saves a recv). */
static int fill(pal_conn *c, apr_time_t deadline, int wait)
{
    if (wait) {
        int rc = wait_fd(c->fd, POLLIN, deadline);
        if (rc)
            return rc;
    }
    for (;;) {
        ssize_t n;
        int rc;
        if (c->len >= PAL_BUF_CAP)
            return E2BIG;
        n = recv(c->fd, c->buf + c->len, PAL_BUF_CAP - c->len, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
            return 0;
        }
        if (n == 0)
            return EPIPE;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno;
        if ((rc = wait_fd(c->fd, POLLIN, deadline)) != 0)
            return rc;
    }
}

/* -------------------------------------------------------------- answers */

typedef struct {
    const char *name, *value;
} pal_header;

typedef struct {
    int status;
    int keepalive;
    int nheaders;
    pal_header h[PAL_MAX_HEADERS];
    const char *body;
    size_t body_len;
} pal_answer;

static const char *answer_header(const pal_answer *a, const char *name)
{
    int i;
    for (i = 0; i < a->nheaders; i++)
        if (strcasecmp(a->h[i].name, name) == 0)
            return a->h[i].value;
    return NULL;
}

static char *find_crlf2(char *p, size_t n)
{
    size_t i;
    for (i = 3; i < n; i++)
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            return p + i + 1;
    return NULL;
}

/* parse_head splits the status line and headers (in place, NUL-terminated);
 * the head is buf[0, headlen). */
static int parse_head(apr_pool_t *p_, char *buf, size_t headlen, pal_answer *a)
{
    char *p = buf, *end = buf + headlen, *eol;
    const char *conn;
    int minor;
    if (headlen < 14 || strncmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return -1;
    minor = p[7] - '0';
    if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
        return -1;
    a->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
        return -1;
    p = eol + 1;
    a->nheaders = 0;
    while (p < end) {
        char *colon, *v, *e;
        if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
            return -1;
        e = eol;
        if (e > p && e[-1] == '\r')
            e--;
        if (e == p)
            break;              /* the blank line */
        if (*p == ' ' || *p == '\t')
            return -1;          /* obsolete line folding: not from Palisade */
        if ((colon = memchr(p, ':', (size_t)(e - p))) == NULL || colon == p)
            return -1;
        *colon = '\0';
        v = colon + 1;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        *e = '\0';
        if (a->nheaders == PAL_MAX_HEADERS)
            return -1;
        a->h[a->nheaders].name = p;
        a->h[a->nheaders].value = v;
        a->nheaders++;
        p = eol + 1;
    }
    conn = answer_header(a, "Connection");
    a->keepalive = minor == 1 ? !(conn && ap_find_token(p_, conn, "close")) : 0;
    return 0;
}

/* chunked_scan checks p[0, n) for a whole chunked body: its raw length, 0
 * when more is needed, -1 when malformed or too big; *decoded is the body's
 * length. With out, it also copies the body there. */
static long chunked_scan(const char *p, size_t n, size_t *decoded, char *out)
{
    size_t i = 0, total = 0;
    for (;;) {
        size_t size = 0, digits = 0;
        while (i < n) {
            char ch = p[i];
            int d = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 :
                    (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10 : -1;
            if (d < 0)
                break;
            if (++digits > 8)
                return -1;
            size = size * 16 + (size_t)d;
            i++;
        }
        if (i >= n)
            return 0;
        if (digits == 0)
            return -1;
        while (i < n && p[i] != '\n')   /* chunk extensions */
            i++;
        if (i >= n)
            return 0;
        i++;
        if (size == 0) {
            /* trailers, then the blank line */
            for (;;) {
                size_t start = i;
                while (i < n && p[i] != '\n')
                    i++;
                if (i >= n)
                    return 0;
                i++;
                if (i - start <= 2) {
                    *decoded = total;
                    return (long)i;
                }
            }
        }
        if (total + size > PAL_BODY_MAX)
            return -1;
        if (n - i < size + 2)
            return 0;
        if (out)
            memcpy(out + total, p + i, size);
        total += size;
        i += size;
        if (p[i] == '\r')
            i++;
        if (p[i] != '\n')
            return -1;
        i++;
    }
}

/* read_answer reads one whole answer. *got is set once any byte arrived
 * (then the request must not be retried on another connection). */
static int read_answer(request_rec *r, pal_conn *c, apr_time_t deadline, pal_answer *a, int *got)
{
    char *headend;
    size_t headlen;
    const char *cl, *te;
    int rc;
    *got = 0;
    c->len = 0;
    for (;;) {
        if ((rc = fill(c, deadline, c->len == 0)) != 0)
            return rc == E2BIG ? EMSGSIZE : rc;
        *got = 1;
        if ((headend = find_crlf2(c->buf, c->len)) != NULL)
            break;
        if (c->len > PAL_HEAD_MAX)
            return EMSGSIZE;
    }
    headlen = (size_t)(headend - c->buf);
    if (headlen > PAL_HEAD_MAX)
        return EMSGSIZE;
    if (parse_head(r->pool, c->buf, headlen, a) != 0)
        return EPROTO;
    te = answer_header(a, "Transfer-Encoding");
    cl = answer_header(a, "Content-Length");
    if (te && strcasecmp(te, "chunked") == 0) {
        long raw;
        size_t dec = 0;
        char *out;
        for (;;) {
            raw = chunked_scan(headend, c->len - headlen, &dec, NULL);
            if (raw < 0)
                return EMSGSIZE;
            if (raw > 0)
                break;
            if ((rc = fill(c, deadline, 0)) != 0)
                return rc == E2BIG ? EMSGSIZE : rc;
        }
        out = apr_palloc(r->pool, dec + 1);
        chunked_scan(headend, c->len - headlen, &dec, out);
        out[dec] = '\0';
        a->body = out;
        a->body_len = dec;
        if ((size_t)raw != c->len - headlen)
            a->keepalive = 0;   /* more than one answer: not ours */
    }
    else if (te) {
        return EPROTO;
    }
    else if (cl) {
        char *end;
        unsigned long n = strtoul(cl, &end, 10);
        if (*end != '\0' || end == cl || n > PAL_BODY_MAX)
            return EMSGSIZE;
        while (c->len - headlen < n)
            if ((rc = fill(c, deadline, 0)) != 0)
                return rc == E2BIG ? EMSGSIZE : rc;
        a->body = headend;
        a->body_len = n;
        if (c->len - headlen != n)
            a->keepalive = 0;
    }
    else if (a->status == 204 || a->status == 304) {
        a->body = headend;
        a->body_len = 0;
    }
    else {
        /* No length: the body runs to the end of the stream. */
        a->keepalive = 0;
        for (;;) {
            rc = fill(c, deadline, 0);
            if (rc == EPIPE)
                break;
            if (rc != 0)
                return rc == E2BIG ? EMSGSIZE : rc;
        }
        if (c->len - headlen > PAL_BODY_MAX)
            return EMSGSIZE;
        a->body = headend;
        a->body_len = c->len - headlen;
    }
    return 0;
}

/* ------------------------------------------------------ verdict request */

/* dropped: the visitor's headers never passed on to Palisade. */
static int dropped(apr_pool_t *p, const char *name, const char *connection)
{
    static const char *const names[] = {
        "Host", "X-Real-IP", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
        "Upgrade", "Expect", "TE", "Trailer", "Proxy-Connection", "Proxy-Authorization",
        "Proxy-Authenticate", "HTTP2-Settings", NULL
    };
    int i;
    if (strncasecmp(name, "X-Original-", 11) == 0 || strncasecmp(name, "X-Palisade-", 11) == 0)
        return 1;
    for (i = 0; names[i]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    /* Hop-by-hop by the visitor's own Connection header. */
    return connection && ap_find_token(p, connection, name);
}

static int token_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 32 || ch >= 127 || strchr("()<>@,;:\\\"/[]?={}", ch))
            return 0;
    }
    return 1;
}

/* put appends s (n bytes) to the request being built, CR, LF and NUL
 * turned into spaces. */
static char *put(char *w, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        char ch = s[i];
        *w++ = (ch == '\r' || ch == '\n' || ch == '\0') ? ' ' : ch;
    }
    return w;
}

#define PUTS(w, s) put((w), (s), strlen(s))
#define LIT(w, s) (memcpy((w), (s), sizeof(s) - 1), (w) + sizeof(s) - 1)

typedef struct {
    apr_pool_t *p;
    const char *connection;
    size_t n;
} size_ctx;

static int size_header(void *rec, const char *k, const char *v)
{
    size_ctx *z = rec;
    if (!dropped(z->p, k, z->connection) && token_name(k))
        z->n += strlen(k) + strlen(v) + 4;
    return 1;
}

typedef struct {
    apr_pool_t *p;
    const char *connection;
    char *w;
} write_ctx;

static int write_header(void *rec, const char *k, const char *v)
{
    write_ctx *z = rec;
    if (!dropped(z->p, k, z->connection) && token_name(k)) {
        z->w = PUTS(z->w, k);
        z->w = LIT(z->w, ": ");
        z->w = PUTS(z->w, v);
        z->w = LIT(z->w, "\r\n");
    }
    return 1;
}

static char *build_request(request_rec *r, pal_server_conf *sc, size_t *len)
{
    const char *host = r->hostname ? r->hostname : apr_table_get(r->headers_in, "Host");
    const char *uri = r->unparsed_uri ? r->unparsed_uri : r->uri;
    const char *ip = r->useragent_ip ? r->useragent_ip : r->connection->client_ip;
    const char *proto = r->protocol ? r->protocol : "HTTP/1.1";
    size_ctx sz;
    write_ctx wr;
    char *buf, *w;
    if (!host)
        host = r->server->server_hostname;     /* HTTP/1.0 without Host: the vhost's name */
    if (!host)
        host = "";
    sz.p = r->pool;
    sz.connection = apr_table_get(r->headers_in, "Connection");
    sz.n = 512 + strlen(sc->up->hostport) + strlen(sc->key ? sc->key : "") + strlen(r->method) +
        strlen(uri) + strlen(host) + strlen(proto) + strlen(ip);
    apr_table_do(size_header, &sz, r->headers_in, NULL);
    buf = w = apr_palloc(r->pool, sz.n);
    w = LIT(w, "GET " PAL_PATH " HTTP/1.1\r\nHost: ");
    w = PUTS(w, sc->up->hostport);
    if (sc->key) {
        w = LIT(w, "\r\nX-Palisade-Key: ");
        w = PUTS(w, sc->key);
    }
    w = LIT(w, "\r\nX-Original-Method: ");
    w = PUTS(w, r->method);
    w = LIT(w, "\r\nX-Original-Uri: ");
    w = PUTS(w, uri);
    w = LIT(w, "\r\nX-Original-Host: ");
    w = PUTS(w, host);
    w = LIT(w, "\r\nX-Original-Protocol: ");
    w = PUTS(w, proto);
    w = LIT(w, "\r\nX-Real-IP: ");
    w = PUTS(w, ip);
    w = LIT(w, "\r\n");
    wr.p = r->pool;
    wr.connection = sz.connection;
    wr.w = w;
    apr_table_do(write_header, &wr, r->headers_in, NULL);
    w = LIT(wr.w, "\r\n");
    *len = (size_t)(w - buf);
    return buf;
}

/* ---------------------------------------------------------- grant cache */

/* Palisade may say a grant can be reused for a few seconds
 * (X-Palisade-Cache: seconds) for requests with the same cache key. The key
 * here is the whole verdict request as built (server key, method, URI,
 * host, protocol, client address and every header passed on, in order):
 * a cached grant only answers a request that Palisade would have seen
 * byte for byte as the one it granted, so no header, outside
 * engine.CacheKeyHeaders or in it, can change a cached verdict. Palisade
 * itself allows caching only for requests whose headers are all in
 * engine.CacheKeyHeaders. The cache is per process, direct-mapped and
 * bounded: PAL_CACHE_SLOTS entries of at most PAL_CACHE_KEY_MAX bytes (4 MiB)
 * in a threaded MPM's few processes, PAL_CACHE_SLOTS_PREFORK (256 KiB) in
 * each of prefork's many. */

typedef struct {
    apr_uint64_t hash;
    apr_time_t expires;
    size_t len, cap;
    char *key;
    char reason[PAL_REASON_MAX];        /* the grant's X-Palisade-Reason, for the report */
} pal_cached;

/* A read-write lock: every request of a cached page reads the same slot,
 * and with a plain mutex one reader that lost its CPU while holding it
 * (64 threads on a busy core) held up all the others. */
static pthread_rwlock_t cache_mu = PTHREAD_RWLOCK_INITIALIZER;
static pal_cached cache[PAL_CACHE_SLOTS];
static apr_uint64_t cache_mask = PAL_CACHE_SLOTS - 1;  /* set per MPM in child_init */

static apr_uint64_t fnv1a(const char *p, size_t n)
{
    apr_uint64_t h = APR_UINT64_C(14695981039346656037);
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= APR_UINT64_C(1099511628211);
    }
    return h;
}

/* cache_hit reports whether the request is answered from the cache, and
 * copies the reused grant's reason into reason (PAL_REASON_MAX bytes). */
static int cache_hit(const char *key, size_t len, apr_uint64_t hash, apr_time_t now, char *reason)
{
    pal_cached *e = &cache[hash & cache_mask];
    int hit;
    if (len > PAL_CACHE_KEY_MAX)
        return 0;
    pthread_rwlock_rdlock(&cache_mu);
    hit = e->hash == hash && e->len == len && e->expires > now && memcmp(e->key, key, len) == 0;
    if (hit)
        memcpy(reason, e->reason, PAL_REASON_MAX);
    pthread_rwlock_unlock(&cache_mu);
    return hit;
}

/* report_word: a reason or key that fits the report's line (no space, no
 * control character, not empty, shorter than max). */
static int report_word(const char *s, size_t max)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if ((unsigned char)s[i] <= 32 || (unsigned char)s[i] >= 127 || i + 1 >= max)
            return 0;
    return i > 0;
}

/* cache_put keeps a grant Palisade said may be reused; only one whose
 * reuse can be reported (a reason that fits the report), so that every
 * reused grant is counted. */
static void cache_put(const char *key, size_t len, apr_uint64_t hash, const char *seconds, const char *reason)
{
    pal_cached *e = &cache[hash & cache_mask];
    char *end;
    long secs;
    if (!seconds || len > PAL_CACHE_KEY_MAX || !reason || !report_word(reason, PAL_REASON_MAX))
        return;
    secs = strtol(seconds, &end, 10);
    if (*end != '\0' || end == seconds || secs <= 0)
        return;
    if (secs > PAL_CACHE_TTL_MAX)
        secs = PAL_CACHE_TTL_MAX;
    pthread_rwlock_wrlock(&cache_mu);
    if (e->cap < len) {
        char *k = realloc(e->key, len);
        if (!k) {
            pthread_rwlock_unlock(&cache_mu);
            return;
        }
        e->key = k;
        e->cap = len;
    }
    memcpy(e->key, key, len);
    strcpy(e->reason, reason);
    e->len = len;
    e->hash = hash;
    e->expires = apr_time_now() + apr_time_from_sec(secs);
    pthread_rwlock_unlock(&cache_mu);
}


/* ------------------------------------------------------ reuse reports */

/* A grant answered from the cache is a request the website served, and
 * plans are priced by requests, yet Palisade never saw it. Each process
 * counts its reused grants per (server key, reason) and reports the counts
 * to Palisade (palisade serve --reuse-addr) in UDP datagrams of lines
 *     <190>palisade_reused: v1 <server key> <reason> <count>
 * at most about every second (a request finding the last report a second
 * old or more, the table full, or this process's reporting thread), and
 * once more when the process exits. Sending never waits and never fails a
 * request: a datagram the kernel will not take at once is lost, and said
 * so in the error log at most every 10 s. A crashed process loses its
 * counts since its last report (about a second's). */

static volatile int reporting_stopped;  /* the process is exiting */
static int reporter_thread_started;
/* The reporting thread sleeps until some tally goes from empty to counting
 * (pending), so an idle process never wakes. */
static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pending_cv = PTHREAD_COND_INITIALIZER;
static int pending;

static void wake_reporting_thread(void)
{
    pthread_mutex_lock(&pending_mu);
    pending = 1;
    pthread_cond_signal(&pending_cv);
    pthread_mutex_unlock(&pending_mu);
}

/* tally_take moves rep's counts into out (PAL_TALLY_SLOTS) and clears
 * them; rep->mu is held. */
static int tally_take(pal_reporter *rep, pal_tally *out, apr_time_t now)
{
    int i, n = 0;
    for (i = 0; i < PAL_TALLY_SLOTS; i++) {
        if (rep->tally[i].key) {
            out[n++] = rep->tally[i];
            rep->tally[i].key = NULL;
            rep->tally[i].count = 0;
        }
    }
    rep->n = 0;
    rep->last_flush = now;
    return n;
}

static void report_failed(pal_reporter *rep, server_rec *s, int err, apr_int64_t lost)
{
    apr_time_t now = apr_time_now(), last = rep->last_log;
    if (now - last >= PAL_LOG_EVERY && __sync_bool_compare_and_swap(&rep->last_log, last, now))
        ap_log_error(APLOG_MARK, APLOG_ERR, err, s,
                     "palisade: cannot report %" APR_INT64_T_FMT " reused grants to Palisade at %s "
                     "(PalisadeReuseReport; logged at most every 10 s per process)", lost, rep->hostport);
}

/* report_send sends the counts in datagrams of whole lines, never waiting. */
static void report_send(pal_reporter *rep, server_rec *s, const pal_tally *t, int n)
{
    char dgram[PAL_REPORT_DGRAM];
    size_t len = 0;
    apr_int64_t in_dgram = 0, lost = 0;
    int i, err = 0, fd = rep->fd;

    for (i = 0; i <= n; i++) {
        apr_int64_t left = i < n ? t[i].count : 0;
        do {
            char line[40 + PAL_KEY_MAX + PAL_REASON_MAX];
            apr_int64_t c = left > PAL_REPORT_MAX_COUNT ? PAL_REPORT_MAX_COUNT : left;
            int ll = 0;
            if (i < n)
                ll = snprintf(line, sizeof(line), "<190>palisade_reused: v1 %s %s %" APR_INT64_T_FMT "\n",
                              t[i].key, t[i].reason, c);
            /* Send what is gathered when this line would not fit, or at the end. */
            if (len > 0 && (i == n || len + (size_t)ll > sizeof(dgram))) {
                ssize_t w;
                do
                    w = fd >= 0 ? sendto(fd, dgram, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                                         (struct sockaddr *)&rep->addr, rep->addrlen) : -1;
                while (w < 0 && fd >= 0 && errno == EINTR);
                if (w < 0) {
                    err = fd >= 0 ? errno : EBADF;
                    lost += in_dgram;
                }
                len = 0;
                in_dgram = 0;
            }
            if (i < n && c > 0 && ll > 0 && (size_t)ll < sizeof(line)) {
                memcpy(dgram + len, line, (size_t)ll);
                len += (size_t)ll;
                in_dgram += c;
            }
            left -= c;
        } while (left > 0);
    }
    if (lost > 0)
        report_failed(rep, s, err, lost);
}

/* report_flush reports rep's counts if there are any and force is set, or
 * the last report is a second old or more. */
static void report_flush(pal_reporter *rep, server_rec *s, int force)
{
    pal_tally *t;
    int n;
    apr_time_t now = apr_time_now();
    if (!force && now - __atomic_load_n(&rep->last_flush, __ATOMIC_RELAXED) < PAL_REPORT_EVERY)
        return;
    if (__atomic_load_n(&rep->n, __ATOMIC_RELAXED) == 0) {
        /* Nothing counted: a request's flush (or a lost race with another
         * one) costs no allocation. The next first count wakes the thread. */
        return;
    }
    t = malloc(sizeof(pal_tally) * PAL_TALLY_SLOTS);
    if (!t)
        return;
    if (force) {
        /* At exit, perhaps in prefork's signal handler, which may have
         * interrupted this very thread holding the lock: do not wait
         * forever for it. */
        int tries = 0;
        while (pthread_mutex_trylock(&rep->mu) != 0) {
            if (++tries > 50) {
                free(t);
                return;
            }
            poll(NULL, 0, 2);
        }
    }
    else
        pthread_mutex_lock(&rep->mu);
    n = rep->n > 0 ? tally_take(rep, t, now) : 0;
    if (n == 0)
        rep->last_flush = now;
    pthread_mutex_unlock(&rep->mu);
    if (n > 0)
        report_send(rep, s, t, n);
    free(t);
}

/* tally_insert counts one for (key, reason); 0 when the table is full.
 * rep->mu is held. */
static int tally_insert(pal_reporter *rep, apr_uint64_t h, const char *key, const char *reason)
{
    int i;
    for (i = 0; i < PAL_TALLY_SLOTS; i++) {
        pal_tally *e = &rep->tally[(h + (apr_uint64_t)i) & (PAL_TALLY_SLOTS - 1)];
        if (!e->key) {
            e->key = key;
            strcpy(e->reason, reason);
            e->count = 1;
            if (rep->n++ == 0)
                wake_reporting_thread();
            return 1;
        }
        if (e->key == key && strcmp(e->reason, reason) == 0) {
            e->count++;
            return 1;
        }
    }
    return 0;
}

/* tally_add counts one reused grant of the site key for reason; a full
 * table is reported first, and the counts once a second. */
static void tally_add(pal_reporter *rep, server_rec *s, const char *key, const char *reason)
{
    apr_uint64_t h = fnv1a(key, strlen(key)) ^ (fnv1a(reason, strlen(reason)) * 31);
    pal_tally *full = NULL;
    int n = 0;
    pthread_mutex_lock(&rep->mu);
    if (!tally_insert(rep, h, key, reason) && (full = malloc(sizeof(pal_tally) * PAL_TALLY_SLOTS)) != NULL) {
        n = tally_take(rep, full, apr_time_now());
        tally_insert(rep, h, key, reason);      /* into the emptied table */
    }
    pthread_mutex_unlock(&rep->mu);
    if (n > 0)
        report_send(rep, s, full, n);
    free(full);
    report_flush(rep, s, 0);
}

/* reporting_thread reports the counts of an idle process: woken by the
 * first count after a report, it waits until that report is a second old,
 * then reports what is due. */
static void *reporting_thread(void *arg)
{
    server_rec *s = arg;
    for (;;) {
        pal_reporter *rep;
        int more;
        pthread_mutex_lock(&pending_mu);
        while (!pending && !reporting_stopped)
            pthread_cond_wait(&pending_cv, &pending_mu);
        pending = 0;
        pthread_mutex_unlock(&pending_mu);
        do {
            apr_time_t now = apr_time_now(), wait = 0;
            if (reporting_stopped)
                return NULL;
            more = 0;
            for (rep = reporters; rep; rep = rep->next) {
                apr_time_t due = __atomic_load_n(&rep->last_flush, __ATOMIC_RELAXED) + PAL_REPORT_EVERY;
                if (__atomic_load_n(&rep->n, __ATOMIC_RELAXED) == 0)
                    continue;
                if (due > now) {
                    if (!more || due - now < wait)
                        wait = due - now;
                    more = 1;
                    continue;
                }
                report_flush(rep, s, 0);
            }
            if (more)
                poll(NULL, 0, (int)((wait + 999) / 1000) + 1);
        } while (more);
    }
}

/* report_at_exit reports what is left when the process exits (a graceful
 * stop or restart, MaxConnectionsPerChild, an idle prefork child). */
static apr_status_t report_at_exit(void *data)
{
    pal_reporter *rep;
    reporting_stopped = 1;
    if (pthread_mutex_trylock(&pending_mu) == 0) {
        pthread_cond_signal(&pending_cv);
        pthread_mutex_unlock(&pending_mu);
    }
    for (rep = reporters; rep; rep = rep->next)
        report_flush(rep, data, 1);
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------- hook */

/* relay sends Palisade's verdict (status, headers, page) to the visitor. */
static int relay(request_rec *r, const pal_answer *a)
{
    static const char *const skip[] = {
        "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Keep-Alive", "Date",
        "Server", "Upgrade", "Trailer", "TE", "Proxy-Connection", NULL
    };
    int i, j;
    ap_discard_request_body(r);
    r->status = a->status;
    for (i = 0; i < a->nheaders; i++) {
        const char *k = a->h[i].name;
        int keep = strncasecmp(k, "X-Palisade-", 11) != 0;
        for (j = 0; keep && skip[j]; j++)
            if (strcasecmp(k, skip[j]) == 0)
                keep = 0;
        if (keep)
            apr_table_add(r->headers_out, apr_pstrdup(r->pool, k), apr_pstrdup(r->pool, a->h[i].value));
    }
    {
        const char *ct = answer_header(a, "Content-Type");
        if (ct)
            ap_set_content_type(r, apr_pstrdup(r->pool, ct));
    }
    if (a->body_len > 0)
        ap_rwrite(a->body, (int)a->body_len, r);
    return DONE;
}

static void note(request_rec *r, const char *name, const char *value)
{
    if (value)
        apr_table_set(r->subprocess_env, name, value);
}

static int unreachable(request_rec *r, pal_server_conf *sc, const char *why, int err)
{
    int mode = sc->fail_mode;
    apr_time_t now = apr_time_now(), last;
    pal_upstream *u = sc->up;
    if (mode == FAIL_UNSET)
        mode = (learned && sc->slot >= 0 && sc->slot < nslots && learned[sc->slot] == 2) ? FAIL_CLOSED : FAIL_OPEN;
    apr_table_setn(r->subprocess_env, "PALISADE_ERROR", why);
    last = u->last_log;
    if (now - last >= PAL_LOG_EVERY && __sync_bool_compare_and_swap(&u->last_log, last, now))
        ap_log_rerror(APLOG_MARK, APLOG_ERR, err, r,
                      "palisade: %s (Palisade at %s); failing %s (logged at most every 10 s per process)",
                      why, u->hostport, mode == FAIL_CLOSED ? "closed" : "open");
    if (mode == FAIL_OPEN)
        return DECLINED;
    ap_discard_request_body(r);
    r->status = HTTP_SERVICE_UNAVAILABLE;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Retry-After", "10");
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rputs("<!doctype html><meta charset=utf-8><title>Temporarily unavailable</title>"
             "<h1>Temporarily unavailable</h1><p>This site cannot be reached safely just now. "
             "Please try again in a moment.</p>\n", r);
    return DONE;
}

static int check_access(request_rec *r)
{
    pal_dir_conf *dc;
    pal_server_conf *sc;
    pal_upstream *u;
    pal_conn *c;
    pal_answer a;
    const char *fm, *action;
    char *req;
    size_t reqlen;
    apr_time_t deadline, now;
    apr_uint64_t hash;
    char reason[PAL_REASON_MAX];
    int rc, got, reused, attempt;

    if (!ap_is_initial_req(r))
        return DECLINED;        /* its original request was judged */
    dc = ap_get_module_config(r->per_dir_config, &palisade_module);
    if (dc->on != 1)
        return DECLINED;
    sc = ap_get_module_config(r->server->module_config, &palisade_module);
    u = sc->up;
    now = apr_time_now();
    deadline = now + apr_time_from_msec(sc->timeout_ms >= 0 ? sc->timeout_ms : PAL_DEFAULT_TIMEOUT_MS);
    req = build_request(r, sc, &reqlen);
    hash = fnv1a(req, reqlen);
    if (cache_hit(req, reqlen, hash, now, reason)) {
        apr_table_setn(r->subprocess_env, "PALISADE_ACTION", "grant");
        apr_table_setn(r->subprocess_env, "PALISADE_REASON", apr_pstrdup(r->pool, reason));
        apr_table_setn(r->subprocess_env, "PALISADE_CACHE", "hit");
        if (sc->rep && sc->key)
            tally_add(sc->rep, r->server, sc->key, reason);
        return DECLINED;
    }
    if (sc->rep)
        report_flush(sc->rep, r->server, 0);

    for (attempt = 0;; attempt++) {
        c = pool_get(u, apr_time_now());
        reused = c != NULL;
        if (!c && (rc = conn_open(u, deadline, &c)) != 0)
            return unreachable(r, sc, rc == ETIMEDOUT ? "connecting timed out" : "cannot connect", rc);
        got = 0;
        rc = send_all(c, req, reqlen, deadline);
        if (rc == 0)
            rc = read_answer(r, c, deadline, &a, &got);
        if (rc == 0)
            break;
        conn_close(c);
        /* An idle connection Palisade closed (a restart, its idle timeout):
         * try once more on a new one, unless time is up or it answered. */
        if (reused && !got && rc != ETIMEDOUT && attempt == 0) {
            pool_flush(u);
            continue;
        }
        return unreachable(r, sc, rc == ETIMEDOUT ? "no answer in time" :
                           rc == EMSGSIZE ? "answer too large" : rc == EPROTO ? "answer malformed" : "connection failed", rc);
    }

    fm = answer_header(&a, "X-Palisade-Fail-Mode");
    if (fm && learned && sc->slot >= 0 && sc->slot < nslots) {
        int v = strcmp(fm, "closed") == 0 ? 2 : strcmp(fm, "open") == 0 ? 1 : 0;
        if (v && learned[sc->slot] != v)
            learned[sc->slot] = v;
    }
    action = answer_header(&a, "X-Palisade-Action");
    if (action) {
        note(r, "PALISADE_ACTION", apr_pstrdup(r->pool, action));
        note(r, "PALISADE_REASON", apr_pstrdup(r->pool, answer_header(&a, "X-Palisade-Reason")));
        note(r, "PALISADE_REF", apr_pstrdup(r->pool, answer_header(&a, "X-Palisade-Ref")));
    }
    if (a.status == 200) {
        cache_put(req, reqlen, hash, answer_header(&a, "X-Palisade-Cache"), answer_header(&a, "X-Palisade-Reason"));
        rc = DECLINED;
    }
    else if (action && a.status >= 300 && a.status < 500) {
        rc = relay(r, &a);
    }
    else {
        /* 5xx (Palisade misconfigured: an unknown key) or no verdict: as if
         * unreachable, and say why. */
        const char *why = answer_header(&a, "X-Palisade-Error");
        why = apr_psprintf(r->pool, "answered %d%s%s", a.status, why ? ": " : "", why ? why : "");
        if (a.keepalive)
            pool_put(u, c);
        else
            conn_close(c);
        return unreachable(r, sc, why, 0);
    }
    if (a.keepalive)
        pool_put(u, c);
    else
        conn_close(c);
    return rc;
}

static void child_init(apr_pool_t *p, server_rec *s)
{
    int threaded = 0;
    pal_reporter *rep;
    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) == APR_SUCCESS && threaded == AP_MPMQ_NOT_SUPPORTED)
        cache_mask = PAL_CACHE_SLOTS_PREFORK - 1;
    if (!reporters)
        return;
    for (rep = reporters; rep; rep = rep->next) {
        rep->fd = socket(rep->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        rep->last_flush = apr_time_now();
        if (rep->fd < 0)
            ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, "palisade: no socket to report reused grants to %s",
                         rep->hostport);
    }
    reporting_stopped = 0;
    apr_pool_cleanup_register(p, s, report_at_exit, apr_pool_cleanup_null);
    /* A thread reports for an idle process; it takes no signal (Apache's
     * are for the process's own threads), and is not joined: at exit,
     * report_at_exit reports what is left under the same lock. */
    if (!reporter_thread_started) {
        pthread_t th;
        pthread_attr_t attr;
        sigset_t all, old;
        sigfillset(&all);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&th, &attr, reporting_thread, s) == 0)
            reporter_thread_started = 1;
        else
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "palisade: no reporting thread; reused grants are reported by requests and at exit");
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
    }
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* access_checker: after the URL is mapped (so <Location>, <Directory>
     * and .htaccess settings apply), before authentication, for every
     * request including static files. */
    ap_hook_access_checker(check_access, NULL, NULL, APR_HOOK_FIRST);
}

AP_DECLARE_MODULE(palisade) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    merge_server_conf,
    pal_cmds,
    register_hooks
};
