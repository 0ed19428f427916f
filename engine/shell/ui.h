/* ui.h - the web dashboard's static files, compiled into the daemon.
 *
 * The files under engine/shell/ui/ are turned into C arrays at build time
 * (engine/shell/ui/embed.cmake writes ui_assets.c), so the daemon serves its
 * dashboard with nothing to install and no network: GET /ui/ is the page,
 * GET /ui/NAME one of its files; GET / and GET /ui redirect to /ui/. These
 * files hold no data and need no token: every figure the pages show comes
 * from the API (/v1/..., /metrics), which the page calls with the bearer
 * token the operator typed (kept in the tab's sessionStorage).
 */
#ifndef LOYALTY_UI_H
#define LOYALTY_UI_H

#include <stdbool.h>
#include <stddef.h>

struct evhttp_request;

/* One embedded file: its path under /ui/ ("index.html", "pages/dlq.js"). */
struct ui_asset {
    const char *path;
    const unsigned char *data;
    size_t len;
};

/* The embedded files (generated: ui_assets.c). */
extern const struct ui_asset ui_assets[];
extern const size_t ui_asset_count;

/* True for the paths ui_serve answers: "/", "/ui" and "/ui/...". */
bool ui_handles(const char *path);

/* Answers a GET or HEAD of `path` (ui_handles(path) is true) with exactly
 * one reply: the file (200), a redirect to /ui/ (302), or 404. */
void ui_serve(struct evhttp_request *req, const char *path);

#endif
