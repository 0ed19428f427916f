"""cdp.py - headless Chromium (Debian's `chromium`) driven through the
DevTools protocol, for the dashboard tests.

The browser runs with a fresh profile in the test's directory, no network
services of its own (no sync, updates or background fetches), and a
DevTools port the kernel picks (read back from DevToolsActivePort, so two
tests never race for one). It is stopped by its own pid: Browser.close over
the protocol, then SIGKILL of its process group (its renderers) if needed.
The websocket client is Debian's python3-websocket.
"""
import base64
import json
import os
import signal
import subprocess
import time
import urllib.request

import websocket

CHROMIUM_BIN = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
START_TIMEOUT_S = 30
CALL_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
WINDOW = (1360, 1000)

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
    "--hide-scrollbars", "--mute-audio", "--remote-debugging-port=0",
    "--remote-allow-origins=*", f"--window-size={WINDOW[0]},{WINDOW[1]}",
]


class CdpError(AssertionError):
    pass


class Page:
    """One page target: calls wait for their answer; events are kept, and the
    console errors, uncaught exceptions and failed loads among them are
    `errors`."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=CALL_TIMEOUT_S,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.errors = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method, timeout=CALL_TIMEOUT_S, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = self._recv(deadline, method)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CdpError(f"{method}: {msg['error']}")
                return msg["result"]

    def _recv(self, deadline, what):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CdpError(f"no answer to {what} in time")
        self.ws.settimeout(remaining)
        try:
            msg = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            raise CdpError(f"no answer to {what} in time") from None
        if "method" in msg:
            self._event(msg["method"], msg.get("params", {}))
        return msg

    def _event(self, method, params):
        self.events.append((method, params))
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(("console", [a.get("value", a.get("description"))
                                            for a in params.get("args", [])]))
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.errors.append(("exception", d.get("exception", {}).get("description",
                                                                         d.get("text"))))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            e = params["entry"]
            self.errors.append(("log", f"{e.get('source')}: {e.get('text')} {e.get('url', '')}"))

    def wait_event(self, method, since=None, timeout=CALL_TIMEOUT_S):
        """Waits for an event `method` received after the first `since`
        events (default: after this call)."""
        deadline = time.monotonic() + timeout
        seen = len(self.events) if since is None else since
        while True:
            for m, params in self.events[seen:]:
                if m == method:
                    return params
            seen = len(self.events)
            self._recv(deadline, method)

    def navigate(self, url):
        start = len(self.events)
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired", since=start)

    def evaluate(self, expression, timeout=CALL_TIMEOUT_S):
        """The value of a JavaScript expression (promises awaited)."""
        res = self.call("Runtime.evaluate", timeout=timeout, expression=expression,
                        awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in res:
            raise CdpError(f"{expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, expression, timeout=CALL_TIMEOUT_S, what=None):
        """Evaluates `expression` until it is truthy and returns its value
        (the page's own work, such as a fetch, happens meanwhile)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise CdpError(f"timed out waiting for {what or expression}")
            self.evaluate("new Promise(r => setTimeout(r, 50))")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def close(self):
        self.ws.close()


class Browser:
    def __init__(self, directory):
        self.dir = directory
        self.profile = directory / "chromium-profile"
        self.profile.mkdir(parents=True)
        self.log = open(directory / "chromium.log", "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM_BIN, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.port = self._devtools_port()
        self.pages = []

    def _devtools_port(self):
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (marker.exists() and marker.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() >= deadline:
                self.stop()
                raise CdpError(f"chromium did not start; see {self.dir / 'chromium.log'}")
            time.sleep(0.05)
        return int(marker.read_text().split()[0])

    def _json(self, path, method="GET"):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(req, timeout=CALL_TIMEOUT_S) as resp:
            return json.loads(resp.read())

    def new_page(self):
        target = self._json("/json/new?about:blank", method="PUT")
        page = Page(target["webSocketDebuggerUrl"])
        self.pages.append(page)
        return page

    def stop(self):
        for p in self.pages:
            p.close()
        if self.proc.poll() is None:
            try:
                version = self._json("/json/version")
                ws = websocket.create_connection(version["webSocketDebuggerUrl"],
                                                 timeout=STOP_TIMEOUT_S, suppress_origin=True)
                ws.send(json.dumps({"id": 1, "method": "Browser.close"}))
                ws.close()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except (OSError, ValueError, subprocess.TimeoutExpired, websocket.WebSocketException):
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        else:
            # The renderers and helpers of the group it led, if any are left.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
