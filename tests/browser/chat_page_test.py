#!/usr/bin/env python3
"""The chat page of `mmfree serve` in a real headless browser (Debian's chromium).

Starts `MMFREE serve --model MODEL --port 0`, opens http://127.0.0.1:PORT/ in chromium driven over
the DevTools protocol (--remote-debugging-pipe: fds 3 and 4, standard library only), types a
message, presses Send and waits until the reply has streamed in: the reply must be non-empty and
have come in more than one chunk. Exits 77 (ctest: skipped) when chromium is not installed.

  chat_page_test.py MMFREE MODEL [--screenshot FILE.png]
"""
import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77


class Browser:
    """chromium --headless with the DevTools protocol on a pipe: messages are JSON, NUL-terminated."""

    def __init__(self, exe, profile):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire_pipes():  # in the child: its fd 3 reads our commands, its fd 4 writes the answers
            os.dup2(to_browser_r, 100)  # out of the way first: either pipe end may be 3 or 4
            os.dup2(from_browser_w, 101)
            os.dup2(100, 3)
            os.dup2(101, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run",
             "--user-data-dir=" + profile, "--window-size=1100,760", "about:blank"],
            preexec_fn=wire_pipes, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.next_id, self.buffer, self.session = 0, b"", None

    def call(self, method, timeout=30, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self.next_id:
                    if "error" in answer:
                        raise RuntimeError("%s: %s" % (method, answer["error"]))
                    return answer.get("result", {})
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed its pipe")
            self.buffer += chunk
        raise RuntimeError("no answer to " + method)

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("page script failed: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def close(self):
        self.proc.kill()
        self.proc.wait()


def start_server(mmfree, model, log):
    proc = subprocess.Popen([mmfree, "serve", "--model", model, "--port", "0", "--parallel", "2"],
                            stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 60
    while time.time() < deadline:
        with open(log.name) as f:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", f.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    with open(log.name) as f:
        sys.exit("FAIL: the server did not start:\n" + f.read())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mmfree")
    p.add_argument("model")
    p.add_argument("--screenshot")
    args = p.parse_args()
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        print("SKIP: chromium is not installed (scripts/deps.sh --browser installs it)")
        return SKIP
    with tempfile.TemporaryDirectory() as tmp, open(os.path.join(tmp, "serve.log"), "w") as log:
        server, port = start_server(args.mmfree, args.model, log)
        browser = Browser(exe, os.path.join(tmp, "profile"))
        try:
            target = browser.call("Target.createTarget", url="http://127.0.0.1:%d/" % port)
            browser.session = browser.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
            deadline = time.time() + 30
            while browser.evaluate("document.readyState") != "complete" or not browser.evaluate("!!document.getElementById('send')"):
                if time.time() > deadline:
                    raise RuntimeError("the page did not load")
                time.sleep(0.05)
            browser.evaluate("document.getElementById('temperature').value = 0;"
                             "document.getElementById('max_tokens').value = 40;"
                             "document.getElementById('input').value = 'Who is Emma Woodhouse?';"
                             "document.getElementById('send').click(); true")
            deadline = time.time() + 60
            while browser.evaluate("document.body.dataset.state") in ("idle", "streaming"):
                if time.time() > deadline:
                    raise RuntimeError("no reply within a minute")
                time.sleep(0.05)
            state = browser.evaluate("document.body.dataset.state")
            reply = browser.evaluate("(document.querySelector('.msg.assistant') || {}).textContent || ''")
            chunks = int(browser.evaluate("(document.querySelector('.msg.assistant') || {dataset: {}}).dataset.chunks || 0"))
            if args.screenshot:
                shot = browser.call("Page.captureScreenshot", format="png")
                with open(args.screenshot, "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
        finally:
            browser.close()
            server.terminate()
            server.wait(timeout=30)
    print("state=%s chunks=%d reply=%r" % (state, chunks, reply[:120]))
    if state != "done" or chunks < 2 or not reply.strip():
        print("FAIL: the reply did not stream in (state %s, %d chunks)" % (state, chunks))
        return 1
    if server.returncode != 0:
        print("FAIL: the server exited with %d after SIGTERM" % server.returncode)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
