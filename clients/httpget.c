/* httpget.c - one blocking HTTP/1.0 GET with a deadline. See httpget.h. */
#include "httpget.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lyassert.h"

#define HTTPGET_REQUEST_MAX (HTTPGET_PATH_MAX + CLIENT_HOST_MAX + HTTPGET_TOKEN_MAX + 96)

int httpget_path_append(char *path, size_t cap, const char *s)
{
    static const char HEX[] = "0123456789ABCDEF";
    size_t n = strlen(path);
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL;
        if (n + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain) {
            path[n++] = (char)ch;
        } else {
            path[n++] = '%';
            path[n++] = HEX[ch >> 4];
            path[n++] = HEX[ch & 0x0f];
        }
    }
    path[n] = '\0';
    return 0;
}

/* Waits until fd is ready for `events` or the deadline passes: 1 ready,
 * 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline_us)
{
    for (;;) {
        int64_t left_us = deadline_us - client_mono_us();
        if (left_us <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)((left_us + 999) / 1000));
        if (rc >= 0)
            return rc > 0 ? 1 : 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Connects a non-blocking socket to one address before the deadline. */
static int dial_addr(const struct addrinfo *a, int64_t deadline_us)
{
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (fd < 0)
        return -1;
    if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
        goto fail;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
        if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline_us) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0)
            goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

static int dial(const struct client_endpoint *ep, int64_t deadline_us,
                struct client_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    char port[CLIENT_NUMBER_MAX];
    int fd = -1;

    snprintf(port, sizeof port, "%d", ep->port);
    int rc = getaddrinfo(ep->host, port, &hints, &list);
    if (rc != 0) {
        snprintf(err->text, sizeof err->text, "cannot resolve %s: %s", ep->host,
                 gai_strerror(rc));
        return -1;
    }
    for (const struct addrinfo *a = list; a != NULL && fd < 0; a = a->ai_next)
        fd = dial_addr(a, deadline_us);
    freeaddrinfo(list);
    if (fd < 0)
        snprintf(err->text, sizeof err->text, "cannot connect to http://%s:%d",
                 ep->host, ep->port);
    return fd;
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline_us)
{
    while (len > 0) {
        if (wait_fd(fd, POLLOUT, deadline_us) != 1)
            return -1;
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return -1;
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        }
    }
    return 0;
}

/* Reads until the server closes (HTTP/1.0). Returns the length read, or -1
 * on error, timeout, or a response over HTTPGET_RESPONSE_MAX. */
static ssize_t recv_all(int fd, char *buf, size_t cap, int64_t deadline_us)
{
    size_t len = 0;
    for (;;) {
        if (wait_fd(fd, POLLIN, deadline_us) != 1)
            return -1;
        char probe; /* when buf is full: is there more? */
        char *dst = len < cap ? buf + len : &probe;
        ssize_t n = recv(fd, dst, len < cap ? cap - len : 1, 0);
        if (n == 0)
            return (ssize_t)len;
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return -1;
        if (n > 0 && len == cap)
            return -1; /* more than we accept */
        if (n > 0)
            len += (size_t)n;
    }
}

static int parse_response(struct httpget_response *r, size_t len,
                          struct client_error *err)
{
    int status = 0;
    r->raw[len] = '\0';
    const char *end = strstr(r->raw, "\r\n\r\n");
    if (sscanf(r->raw, "HTTP/1.%*d %3d", &status) != 1 || end == NULL ||
        status < 100 || status > 599) {
        snprintf(err->text, sizeof err->text, "malformed HTTP response");
        return -1;
    }
    r->status = status;
    r->body = end + 4;
    r->body_len = len - (size_t)(r->body - r->raw);
    return 0;
}

bool httpget_token_ok(const char *token)
{
    size_t len = strlen(token);
    for (size_t i = 0; i < len; i++)
        if (token[i] < 0x21 || token[i] > 0x7e)
            return false;
    return len >= 1 && len <= HTTPGET_TOKEN_MAX;
}

int httpget_fetch(const struct client_endpoint *ep, const char *path, const char *bearer,
                  uint32_t timeout_ms, struct httpget_response *r,
                  struct client_error *err)
{
    int64_t deadline_us = client_mono_us() + (int64_t)timeout_ms * 1000;
    char req[HTTPGET_REQUEST_MAX];
    LY_ASSERT(strlen(path) < HTTPGET_PATH_MAX);
    LY_ASSERT(bearer == NULL || httpget_token_ok(bearer));
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.0\r\nHost: %s:%d\r\nAccept: application/json\r\n"
                     "%s%s%s\r\n", path, ep->host, ep->port,
                     bearer ? "Authorization: Bearer " : "", bearer ? bearer : "",
                     bearer ? "\r\n" : "");
    LY_ASSERT(n > 0 && (size_t)n < sizeof req);

    int fd = dial(ep, deadline_us, err);
    if (fd < 0)
        return -1;
    ssize_t len = -1;
    if (send_all(fd, req, (size_t)n, deadline_us) == 0)
        len = recv_all(fd, r->raw, HTTPGET_RESPONSE_MAX, deadline_us);
    close(fd);
    if (len < 0) {
        snprintf(err->text, sizeof err->text,
                 "no complete response from http://%s:%d%s within %u ms "
                 "(or over %d bytes)", ep->host, ep->port, path,
                 (unsigned)timeout_ms, HTTPGET_RESPONSE_MAX);
        return -1;
    }
    return parse_response(r, (size_t)len, err);
}
