/* ui.c - see ui.h. */
#include "ui.h"

#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "lyassert.h"

#define UI_PREFIX "/ui/"

/* What the browser may do with the pages: run and load only what this
 * daemon serves, be framed by nobody, send no referrer. A script or style
 * injected into a page (say, through a member id shown) cannot run. */
#define UI_CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " \
               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " \
               "frame-ancestors 'none'"

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static const struct ui_asset *find(const char *name)
{
    for (size_t i = 0; i < ui_asset_count; i++)
        if (strcmp(ui_assets[i].path, name) == 0)
            return &ui_assets[i];
    return NULL;
}

bool ui_handles(const char *path)
{
    return strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0 ||
           strncmp(path, UI_PREFIX, strlen(UI_PREFIX)) == 0;
}

void ui_serve(struct evhttp_request *req, const char *path)
{
    LY_ASSERT(ui_handles(path));
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0) {
        evhttp_add_header(h, "Location", UI_PREFIX);
        evhttp_send_reply(req, 302, "Found", NULL);
        return;
    }
    const char *name = path + strlen(UI_PREFIX);
    const struct ui_asset *a = find(name[0] == '\0' ? "index.html" : name);
    struct evbuffer *body = a ? evbuffer_new() : NULL;
    if (a == NULL || body == NULL || evbuffer_add_reference(body, a->data, a->len, NULL, NULL)) {
        evhttp_send_error(req, a == NULL ? 404 : 500, NULL);
    } else {
        evhttp_add_header(h, "Content-Type", content_type(a->path));
        evhttp_add_header(h, "Cache-Control", "no-cache");
        evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
        evhttp_add_header(h, "Referrer-Policy", "no-referrer");
        evhttp_add_header(h, "Content-Security-Policy", UI_CSP);
        evhttp_send_reply(req, 200, "OK", body);
    }
    if (body)
        evbuffer_free(body);
}
