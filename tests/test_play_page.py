"""The play page (experiments/play/) in a real headless Chromium through selenium, driven by the
real Pong emulator at the model's resolution: it loads and steps, the held key reaches the
server (ArrowUp moves the paddle up, ArrowDown down), the fps and ms readouts count, the page is
not blank, the mode select reaches the stepper, reset and pause work; bad POSTs answer 400 in one
line (no browser needed).

The browser is Debian's (`apt-get install chromium chromium-driver`; .ci/run installs it). With
CI=true a missing browser or selenium fails these tests; elsewhere they are skipped, saying why.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datasets.video.frames import to_grey
from experiments.play.server import PlayServer
from experiments.play.stepper import EmulatorStepper, Stepper

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
WAIT = 20.0  # seconds: the longest any one condition is waited for


# --- steppers -------------------------------------------------------------------------------

class Recording:
    """A stepper that records every call (kind, action, mode) and the last frame, delegating."""

    def __init__(self, inner: Stepper) -> None:
        self.inner = inner
        self.action_names, self.key_map = inner.action_names, inner.key_map
        self.default_action, self.modes = inner.default_action, inner.modes
        self.calls: list[tuple[str, int | None, str]] = []
        self.last_frame: np.ndarray | None = None

    def reset(self, mode: str) -> np.ndarray:
        self.last_frame = self.inner.reset(mode)
        self.calls.append(("reset", None, mode))
        return self.last_frame

    def step(self, action: int, mode: str) -> np.ndarray:
        self.last_frame = self.inner.step(action, mode)
        self.calls.append(("step", action, mode))
        return self.last_frame


class TwoModes:
    """A fake model with two generator modes: a 16 x 16 RGB pattern that moves one pixel a step."""

    action_names = ["NOOP", "FIRE"]
    key_map = {" ": 1}
    default_action = 0
    modes = ["one-step, 1 NFE", "diffusion forcing, K=10"]

    def __init__(self) -> None:
        self.t = 0

    def frame(self, mode: str) -> np.ndarray:
        rows, cols = np.indices((16, 16))
        image = np.zeros((16, 16, 3), np.uint8)
        image[..., 0] = np.where((rows + cols + self.t) % 4 < 2, 220, 30)
        image[..., 1 + self.modes.index(mode)] = 160
        return image

    def reset(self, mode: str) -> np.ndarray:
        self.t = 0
        return self.frame(mode)

    def step(self, action: int, mode: str) -> np.ndarray:
        self.t += 1
        return self.frame(mode)


@pytest.fixture
def serve() -> Iterator[Callable[[Stepper], PlayServer]]:
    """Start a PlayServer for a stepper; every one started is shut down after the test."""
    servers: list[PlayServer] = []

    def start(stepper: Stepper) -> PlayServer:
        servers.append(PlayServer(stepper).start())
        return servers[-1]
    yield start
    for server in servers:
        server.shutdown()


# --- the browser ----------------------------------------------------------------------------

def emulator(grey: bool) -> Recording:
    """The recorded Pong emulator at 64 x 64; without ale-py, failed under CI=true, else skipped."""
    if importlib.util.find_spec("ale_py") is None:
        message = "ale-py is not installed (the Atari emulator): pip install ale-py"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return Recording(EmulatorStepper(size=64, grey=grey))


def browser_problem() -> str | None:
    """Why headless Chromium cannot be driven here, or None."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        return (f"{' and '.join(missing)} missing; install Debian's browser: "
                f"sudo apt-get install -y chromium chromium-driver")
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed; pip install -r requirements/dev.txt"
    return None


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory):
    problem = browser_problem()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no headless Chromium: {problem}", pytrace=False)
        pytest.skip(f"no headless Chromium: {problem}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=900,700",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    browser.set_page_load_timeout(WAIT)
    yield browser
    browser.quit()


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT):
    """Poll `condition` until it is truthy (returned), failing with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def readout(browser, element_id: str) -> float:
    from selenium.webdriver.common.by import By
    text = browser.find_element(By.ID, element_id).text
    try:
        return float(text)
    except ValueError:
        return float("nan")


def open_page(browser, server: PlayServer) -> None:
    browser.get(server.url)
    wait_for(lambda: readout(browser, "steps") >= 3, "the step counter to reach 3")


def paddle_row(frame: np.ndarray) -> float:
    """The player's (right) paddle's mean row in a Pong frame: column 141 of 160 in the screen,
    the rows that differ from that column's background."""
    grey = (to_grey(frame) if frame.shape[-1] == 3 else frame)[..., 0].astype(int)
    column = grey[:, int(frame.shape[1] * 141 / 160)]
    rows = np.nonzero(np.abs(column - np.median(column)) > 8)[0]
    assert rows.size, f"no paddle in column {column.tolist()}"
    return float(rows.mean())


def settled(stepper: Recording, seconds: float = 0.3) -> bool:
    """No call reached the stepper for `seconds`."""
    calls = len(stepper.calls)
    time.sleep(seconds)
    return len(stepper.calls) == calls


def image_std(png: bytes) -> float:
    return float(np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float).std())


# --- tests ----------------------------------------------------------------------------------

@pytest.mark.parametrize("grey", [True, False], ids=["grey", "rgb"])
def test_page_plays_the_emulator(driver, serve, tmp_path: Path, grey: bool) -> None:
    from selenium.webdriver.common.by import By

    stepper = emulator(grey)
    open_page(driver, serve(stepper))
    frame = driver.find_element(By.ID, "frame")
    assert frame.tag_name == "canvas" and frame.get_attribute("width") == "64"
    assert driver.execute_script("return arguments[0].clientWidth", frame) == 256, "shown 4x"
    assert driver.execute_script("return getComputedStyle(arguments[0]).imageRendering",
                                 frame) == "pixelated"
    first = readout(driver, "steps")
    wait_for(lambda: readout(driver, "steps") >= first + 10, "the step counter to advance")
    wait_for(lambda: readout(driver, "fps") > 0, "a positive fps readout")
    wait_for(lambda: readout(driver, "ms") > 0, "a positive ms readout")
    assert {action for kind, action, _ in stepper.calls if kind == "step"} == {0}, "no key: NOOP"
    assert stepper.last_frame.shape == (64, 64, 1 if grey else 3)
    legend = driver.find_element(By.ID, "legend").text
    assert "UP" in legend and "ArrowUp" in legend and "DOWN" in legend and "s" in legend

    shot = tmp_path / "page.png"
    assert driver.save_screenshot(str(shot))
    assert image_std(shot.read_bytes()) > 10, f"the page screenshot {shot} looks blank"

    # paused, the frame shown is the last one served: the screenshot of its region, sampled at
    # the centre of each 4 x 4 block, is that frame
    driver.find_element(By.ID, "pause").click()
    wait_for(lambda: settled(stepper), "the steps to stop once paused")
    region = np.asarray(Image.open(io.BytesIO(frame.screenshot_as_png)).convert("RGB"))
    border = (region.shape[0] - 256) // 2
    shown = region[border + 2:border + 256:4, border + 2:border + 256:4].astype(int)
    served = stepper.last_frame.astype(int)
    assert shown.shape == (64, 64, 3) and served.std() > 2
    assert np.abs(shown - served).mean() < 3, "the frame shown is not the frame served"


def test_held_arrows_move_the_paddle(driver, serve) -> None:
    from selenium.webdriver import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    stepper = emulator(grey=True)
    open_page(driver, serve(stepper))
    rows = {}
    for key, action, name in ((Keys.ARROW_UP, 1, "UP"), (Keys.ARROW_DOWN, 2, "DOWN")):
        start = len(stepper.calls)
        ActionChains(driver).key_down(key).perform()
        wait_for(lambda: sum(a == action for _, a, _ in stepper.calls[start:]) >= 15,
                 f"15 {name} steps while the key is held")
        assert driver.find_element(By.ID, "action").text == name
        rows[name] = paddle_row(stepper.last_frame)
        ActionChains(driver).key_up(key).perform()
        held = [a for kind, a, _ in stepper.calls[start:] if kind == "step"]
        assert set(held) <= {0, action}, f"holding {name} sent {held}"
        after = len(stepper.calls)
        wait_for(lambda: [a for _, a, _ in stepper.calls[after:]][-3:] == [0, 0, 0],
                 f"NOOP again once {name} is released")
    assert rows["UP"] < 16 < 48 < rows["DOWN"], f"the paddle's rows: {rows}"


def test_mode_select_reset_and_pause_reach_the_server(driver, serve) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    stepper = Recording(TwoModes())
    server = serve(stepper)
    open_page(driver, server)
    select = Select(driver.find_element(By.ID, "mode"))
    assert [option.text for option in select.options] == TwoModes.modes
    assert {mode for _, _, mode in stepper.calls} == {TwoModes.modes[0]}

    select.select_by_visible_text(TwoModes.modes[1])
    switched = wait_for(lambda: next((i for i, (_, _, mode) in enumerate(stepper.calls)
                                      if mode == TwoModes.modes[1]), None),
                        "a call with the new mode")
    wait_for(lambda: len(stepper.calls) > switched + 5, "steps after the switch")
    assert {mode for _, _, mode in stepper.calls[switched:]} == {TwoModes.modes[1]}
    assert stepper.calls[switched][0] == "step", "switching modes does not reset"

    driver.find_element(By.ID, "reset").click()
    wait_for(lambda: ("reset", None, TwoModes.modes[1]) in stepper.calls[switched:],
             "a reset in the new mode")

    driver.find_element(By.ID, "pause").click()
    wait_for(lambda: settled(stepper), "the steps to stop once paused")
    paused_at = len(stepper.calls)
    assert settled(stepper, 0.5), "steps went on while paused"
    assert driver.find_element(By.ID, "pause").text == "resume"
    driver.find_element(By.ID, "pause").click()
    wait_for(lambda: len(stepper.calls) > paused_at + 5, "steps after resuming")


# --- the HTTP interface, no browser ---------------------------------------------------------

def post(url: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_endpoints_and_bad_posts(serve) -> None:
    stepper = Recording(TwoModes())
    server = serve(stepper)
    with urllib.request.urlopen(server.url + "info", timeout=10) as response:
        info = json.load(response)
    assert info == {"action_names": ["NOOP", "FIRE"], "key_map": {" ": 1}, "default_action": 0,
                    "modes": TwoModes.modes, "frame_shape": [16, 16, 3]}
    with urllib.request.urlopen(server.url, timeout=10) as response:
        assert b'id="frame"' in response.read()

    good = json.dumps({"action": 1, "mode": TwoModes.modes[1]}).encode()
    status, headers, body = post(server.url + "step", good)
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(body)).size == (16, 16)
    assert float(headers["X-Step-Ms"]) >= 0 and headers["X-Step-Count"] == "1"
    assert stepper.calls[-1] == ("step", 1, TwoModes.modes[1])
    status, headers, _ = post(server.url + "reset", json.dumps({"mode": TwoModes.modes[0]}).encode())
    assert status == 200 and headers["X-Step-Count"] == "0"

    calls = len(stepper.calls)
    bad = {
        b'{"action": 1, "mode": ': "body: not JSON",
        b'[1, 2]': "body: a JSON list",
        json.dumps({"action": 2, "mode": TwoModes.modes[0]}).encode(): "action: 2 is not an "
                                                                       "integer in 0..1",
        json.dumps({"action": "1", "mode": TwoModes.modes[0]}).encode(): "action: '1'",
        json.dumps({"action": True, "mode": TwoModes.modes[0]}).encode(): "action: True",
        json.dumps({"mode": TwoModes.modes[0]}).encode(): "action: missing",
        json.dumps({"action": 0, "mode": "K=3"}).encode(): f"mode: 'K=3' is not one of "
                                                           f"{TwoModes.modes}",
        json.dumps({"action": 0, "speed": 2}).encode(): "speed: unknown key; allowed: action, mode",
    }
    for data, message in bad.items():
        status, _, body = post(server.url + "step", data)
        text = body.decode()
        assert status == 400, (data, status, text)
        assert text.startswith(message) and text.count("\n") == 1, (data, text)
    assert len(stepper.calls) == calls, "no bad request reached the stepper"
    assert post(server.url + "nowhere", good)[0] == 404
