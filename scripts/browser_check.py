"""Drives headless Chromium over the DevTools protocol (on a pipe: no network, no packages)
and checks an everybyte HTML report as a person uses it. Run by scripts/test-browser.

    python3 scripts/browser_check.py CHROMIUM REPORT.html OUT_DIR [CHART_PAGE.html ...]

Checks, at a 1280x800 window: the first finding is visible without scrolling; no text of any
chart leaves its SVG; every axis's ticks are round (1, 2 or 5 x 10^n, powers of two on byte
axes, clock steps on time axes); the filters work from the keyboard alone (Tab to a control,
Space to toggle, typing into the rule box) and their state goes into the URL fragment, from
which a fresh load restores the same view; dark mode follows the system setting; the print
stylesheet hides the controls. Screenshots of the light, dark and filtered views are saved
in OUT_DIR. Each CHART_PAGE gets the chart checks (labels inside, round ticks) and a
screenshot of each chart. Exits 1 with every failed check listed.
"""

import base64
import json
import math
import os
import re
import select
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, exe):
        self.profile = tempfile.mkdtemp(prefix="everybyte-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def fds():
            # The protocol pipe: Chromium reads commands on fd 3 and writes replies on fd 4.
            # (Through fresh descriptors first: a pipe may already sit on 3 or 4, and dup2
            # onto itself would leave it closed at exec.)
            r, w = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
             f"--user-data-dir={self.profile}", "about:blank"],
            preexec_fn=fds, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.next_id = 0
        self.buffer = b""
        self.events = []
        self.session = None
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget",
                                 targetId=page["targetId"], flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _read(self, timeout=60):
        while b"\0" not in self.buffer:
            ready, _, _ = select.select([self.from_browser], [], [], timeout)
            if not ready:
                raise RuntimeError(f"the browser did not answer within {timeout} s")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("the browser closed the protocol pipe")
            self.buffer += chunk
        msg, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    del self.events[i]
                    return e
            self.events.append(self._read(timeout=max(0.1, end - time.time())))
        raise RuntimeError(f"no {method} within {timeout} s")

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr[:60]}…: {r['exceptionDetails']}")
        return r["result"].get("value")

    def load(self, url):
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def key(self, key, code, vk, text=None):
        down = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk}
        if text:
            down["text"] = text
        self.call("Input.dispatchKeyEvent", **down)
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code,
                  windowsVirtualKeyCode=vk)

    def type(self, s):
        for ch in s:
            self.key(ch, "Key" + ch.upper() if ch.isalpha() else "", ord(ch.upper()), text=ch)

    def tab_to(self, selector, limit=250):
        """Presses Tab until the element matching `selector` has the focus."""
        self.js("document.activeElement && document.activeElement.blur(); window.scrollTo(0,0)")
        for _ in range(limit):
            self.key("Tab", "Tab", 9)
            if self.js(f"document.activeElement === document.querySelector({json.dumps(selector)})"):
                return True
        return False

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def screenshot_of(self, selector, path):
        """A screenshot of the first element matching `selector`, wherever it is on the page."""
        box = self.js(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null; const r = e.getBoundingClientRect();
            return [r.left + scrollX, r.top + scrollY, r.width, r.height]; }})()""")
        if not box:
            return False
        clip = dict(zip(("x", "y", "width", "height"), box), scale=1)
        data = self.call("Page.captureScreenshot", format="png", clip=clip,
                         captureBeyondViewport=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return True

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


NUMBER = re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?)\s*(%|B|KiB|MiB|GiB|TiB|ms|s|min|h|d)?$")


def round_axis(labels):
    """None when the labels are the ticks of a round axis; else what is wrong."""
    if all(l.startswith("p") for l in labels):  # a latency tail: p0, p90, p99, p99.9
        want = ["p0"] + ["p" + ("99" if i > 1 else "90") + ("." + "9" * (i - 2) if i > 2 else "")
                         for i in range(1, len(labels))]
        return None if labels == want else f"tail ticks {labels}"
    parsed = [NUMBER.match(l) for l in labels]
    if not all(parsed):
        return f"unreadable tick {labels}"
    units = {m.group(2) for m in parsed}
    if len(units) != 1:
        return f"mixed units {labels}"
    unit = units.pop()
    values = [float(m.group(1)) for m in parsed]
    if len(values) < 2:
        return f"a single tick {labels}"
    steps = {round(b - a, 9) for a, b in zip(values, values[1:])}
    if len(steps) != 1:
        return f"uneven ticks {labels}"
    step = steps.pop()
    if step <= 0:
        return f"ticks not increasing {labels}"
    if any(abs(v / step - round(v / step)) > 1e-6 for v in values):
        return f"ticks off their step {labels}"
    mantissa = step / 10 ** math.floor(math.log10(step))
    if unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        ok = abs(math.log2(step) - round(math.log2(step))) < 1e-9 or (
            unit != "B" and abs(math.log2(step * 1024) - round(math.log2(step * 1024))) < 1e-9)
    elif unit in ("s", "min"):
        ok = step in (15, 30) or any(abs(mantissa - m) < 1e-9 for m in (1, 2, 5))
    elif unit == "h":
        ok = step in (1, 2, 3, 6, 12)
    else:
        ok = any(abs(mantissa - m) < 1e-9 for m in (1, 2, 5))
    return None if ok else f"step {step} is not round: {labels}"


def charts_ok(b, check, out, name):
    """The chart checks on the loaded page, and a screenshot of each chart."""
    charts = b.js("document.querySelectorAll('figure svg').length")
    check(charts >= 1, f"{name}: {charts} chart{'s' if charts != 1 else ''} drawn")
    clipped = b.js("""(() => { const bad = [];
        for (const svg of document.querySelectorAll('figure svg')) {
          const s = svg.getBoundingClientRect();
          for (const t of svg.querySelectorAll('text')) {
            const r = t.getBoundingClientRect();
            if (r.width === 0) continue;
            if (r.left < s.left - 0.5 || r.right > s.right + 0.5 || r.top < s.top - 0.5 || r.bottom > s.bottom + 0.5)
              bad.push(t.textContent + ' [' + Math.round(r.left - s.left) + '..' + Math.round(r.right - s.left) + ' of ' + Math.round(s.width) + ']');
          } }
        return bad; })()""")
    texts = b.js("document.querySelectorAll('figure svg text').length")
    check(not clipped, f"{name}: no label of the {texts} in the charts leaves its SVG {clipped[:5]}")
    axes = b.js("""(() => { const out = [];
        for (const svg of document.querySelectorAll('figure svg'))
          for (const k of ['x', 'y']) {
            const l = [...svg.querySelectorAll('text.tick.' + k)].map(t => t.textContent);
            if (l.length) out.push(l);
          }
        return out; })()""")
    bad_axes = [r for r in (round_axis(a) for a in axes) if r]
    check(not bad_axes, f"{name}: the ticks of {len(axes)} axes are round {bad_axes[:3]}")
    b.js("document.querySelectorAll('figure').forEach((f, k) => f.id = 'fig-' + k)")
    for i in range(charts):
        b.screenshot_of(f"#fig-{i}", os.path.join(out, f"{name}-chart-{i}.png"))


def main():
    exe, report, out = sys.argv[1:4]
    chart_pages = sys.argv[4:]
    os.makedirs(out, exist_ok=True)
    url = "file://" + os.path.abspath(report)
    failures = []

    def check(ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures.append(what)

    b = Browser(exe)
    try:
        b.call("Emulation.setDeviceMetricsOverride", width=1280, height=800,
               deviceScaleFactor=1, mobile=False)
        b.call("Emulation.setEmulatedMedia", media="",
               features=[{"name": "prefers-color-scheme", "value": "light"}])
        b.load(url)
        errors = [e for e in b.events if e.get("method") == "Runtime.exceptionThrown"]
        check(not errors, f"the page's script runs without an exception {errors[:1]}")
        total = b.js("document.querySelectorAll('li.finding').length")
        check(total > 0, f"{total} findings on the page")
        first = b.js("""(() => { const m = document.querySelector('li.finding .msg');
                       if (!m) return [1e9, 1e9];
                       const r = m.getBoundingClientRect(); return [r.top, r.bottom]; })()""")
        check(first[1] <= 800, f"the first finding's message is visible without scrolling (bottom at {first[1]:.0f} px of 800)")
        b.screenshot(os.path.join(out, "light.png"))
        charts_ok(b, check, out, "report")
        plurals = b.js("document.body.innerText.match(/\\b1 (findings|errors|warnings|files|inputs|requests)\\b/g)")
        check(not plurals, f"no '1 findings' {plurals}")

        if total == 0:
            raise SystemExit(f"{len(failures)} browser checks failed (no findings: stopped)")
        # The filters from the keyboard: Tab to a control, Space toggles, typing filters.
        reached = b.tab_to("input[name=sev][value=warning]")
        check(reached, "Tab reaches the warnings checkbox")
        b.key(" ", "Space", 32, text=" ")
        shown = b.js("document.querySelectorAll('li.finding:not([hidden])').length")
        warnings = b.js("document.querySelectorAll('li.finding[data-sev=warning]').length")
        check(reached and shown == total - warnings,
              f"Space unticks warnings: {shown} of {total} shown, {warnings} warnings hidden")
        check("sev=error,info" in b.js("location.hash"), f"the fragment holds the severities ({b.js('location.hash')})")
        reached = b.tab_to("#code")
        check(reached, "Tab reaches the rule box")
        b.type("k8s")
        want = b.js("document.querySelectorAll('li.finding[data-code^=K8S]:not([data-sev=warning])').length")
        shown = b.js("document.querySelectorAll('li.finding:not([hidden])').length")
        check(reached and 0 < want == shown, f"typing k8s shows the {want} K8S findings that are not warnings ({shown} shown)")
        hidden_files = b.js("[...document.querySelectorAll('section.file')].filter(s => s.hidden).length")
        check(hidden_files > 0, f"{hidden_files} files without a shown finding are hidden")
        frag = b.js("location.hash")
        check(frag == "#sev=error,info&code=k8s", f"the fragment is {frag}")
        b.screenshot(os.path.join(out, "filtered.png"))
        # A fresh load of the link shows the same view.
        b.load("about:blank")
        b.load(url + frag)
        again = b.js("document.querySelectorAll('li.finding:not([hidden])').length")
        state = b.js("[document.querySelector('input[value=warning]').checked, document.getElementById('code').value]")
        check(again == shown and state == [False, "k8s"], f"the link restores the view ({again} shown, controls {state})")
        # An area link in the summary filters by area.
        b.js("document.querySelector('table.summary a[href^=\"#area=\"]').click()")
        time.sleep(0.2)
        area = b.js("document.getElementById('area').value")
        in_area = b.js("[...document.querySelectorAll('li.finding:not([hidden])')].every(li => li.dataset.area === document.getElementById('area').value)")
        check(bool(area) and in_area, f"a summary link shows one area ({area})")
        b.tab_to("#reset")
        b.key("Enter", "Enter", 13, text="\r")
        shown = b.js("document.querySelectorAll('li.finding:not([hidden])').length")
        check(shown == total and b.js("location.hash") == "", f"Enter on 'show all' shows all {total} again")

        # Dark mode from the system setting.
        b.call("Emulation.setEmulatedMedia", media="",
               features=[{"name": "prefers-color-scheme", "value": "dark"}])
        b.load(url)
        bg = b.js("getComputedStyle(document.body).backgroundColor")
        nums = [int(x) for x in re.findall(r"\d+", bg)[:3]]
        check(sum(nums) < 150, f"dark mode: the page's background is {bg}")
        fill = b.js("getComputedStyle(document.querySelector('figure svg text')).fill")
        check(sum(int(x) for x in re.findall(r"\d+", fill)[:3]) > 450, f"dark mode: chart text is light ({fill})")
        b.screenshot(os.path.join(out, "dark.png"))
        # Print: no controls, every line of code wraps instead of being cut.
        b.call("Emulation.setEmulatedMedia", media="print",
               features=[{"name": "prefers-color-scheme", "value": "light"}])
        display = b.js("getComputedStyle(document.getElementById('filters')).display")
        check(display == "none", f"print: the filters are not printed ({display})")
        pdf = b.call("Page.printToPDF")["data"]
        with open(os.path.join(out, "report.pdf"), "wb") as f:
            f.write(base64.b64decode(pdf))
        check(len(pdf) > 1000, "print: the page prints to PDF")
        b.call("Emulation.setEmulatedMedia", media="",
               features=[{"name": "prefers-color-scheme", "value": "light"}])
        for page in chart_pages:
            b.load("file://" + os.path.abspath(page))
            charts_ok(b, check, out, os.path.splitext(os.path.basename(page))[0])
    finally:
        b.close()
    print(f"screenshots: {out}/light.png {out}/dark.png {out}/filtered.png; print: {out}/report.pdf")
    if failures:
        print(f"{len(failures)} browser checks failed")
        sys.exit(1)
    print("every browser check passed")


if __name__ == "__main__":
    main()
