"""Light sessions: simulated people who speak Streamlit's own websocket protocol, no browser each.

A real browser (Chromium, through Playwright) opens the Draw page, draws one digit and presses
Clear while every message it sends is recorded (`record`). A `Person` then replays that
recording in a session of its own: it opens the Draw page as the browser did, sends drawings of
its own the way the canvas sends one (their strokes as fabric.js paths in the canvas widget's
value, in the recorded message, made by `stroke_message`), reads the Prediction from the
server's replies, can press Right! to keep a drawing, and clears the canvas as the browser did
before the next. Shared by bench/classroom.py and the browser tests.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from playwright.sync_api import Browser, expect, sync_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mnist_core.answer import read_drawing
from mnist_core.strokes import Point, Stroke, canvas_drawing
from scripts.writers import DEFAULT_SEED, make_writers, writer_fonts
from tests.e2e.browser import (
    VIEWPORT,
    clear_button,
    clear_canvas,
    draw_digit,
    go_to,
    launch_chromium,
    open_app,
    prediction,
    wait_until_idle,
)

ANSWER_TIMEOUT_S = 10.0  # an answer not back by then counts as missing
POINTER_SPACING_PX = 4.0  # between the points a browser sends of a stroke, about
CANVAS_KEY = "-canvas"  # the end of the canvas widget's id
PREDICTION = "Prediction"  # the Draw page's metric label
PERSON_KEY = "-person_field"  # the end of the Draw page's name field's id
MODEL_PICKER_KEY = "-model_picker"  # the sidebar's; its options read "name · architecture · …"
RIGHT = "Right!"  # the start of the label of the button that keeps a drawing as read
KEPT = "Kept as"  # the start of the notice the page shows once it kept it
RECORDED_DIGIT = 7
CLEARING_RERUNS = 2  # Clear's click, then the canvas reporting itself blank once it reloaded


@dataclass(frozen=True)
class Recording:
    """What a browser sent: the messages that opened the Draw page, then one stroke's, and the
    Prediction the browser showed for that stroke; then Clear's (`CLEARING_RERUNS`), which the
    people replaying it press after each drawing: none on a page without Clear, or where Clear
    is left out (`dataclasses.replace(recording, clearing=[])`)."""

    opening: list[bytes]
    stroke: bytes
    answer: str
    clearing: list[bytes]

    @property
    def model(self) -> str:
        """The name of the model the page read the stroke with (the sidebar picker's)."""
        back = BackMsg()
        back.ParseFromString(self.stroke)
        for widget in back.rerun_script.widget_states.widgets:
            if widget.id.endswith(MODEL_PICKER_KEY):
                return widget.string_value.split(" · ")[0]
        raise ValueError("the recorded stroke names no model")


def record(url: str, browser: Browser | None = None) -> Recording:
    """Open the Draw page in Chromium (`browser`, or one of its own), draw a digit, clear it
    (where the page has Clear), and keep what the page sent."""
    if browser is None:
        with sync_playwright() as playwright:
            chromium = launch_chromium(playwright)
            try:
                return record(url, chromium)
            finally:
                chromium.close()
    sent: list[bytes] = []
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    open_app(page, url)
    go_to(page, "Draw")
    opened = len(sent)
    draw_digit(page, RECORDED_DIGIT)
    expect(prediction(page)).to_be_visible()
    wait_until_idle(page)
    answer = prediction(page).inner_text().strip()
    drawn = len(sent)
    clears = clear_button(page).count() > 0
    if clears:
        clear_canvas(page)
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while sum(map(is_rerun, sent[drawn:])) < CLEARING_RERUNS and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        wait_until_idle(page)
    context.close()
    strokes = [message for message in sent[opened:drawn] if _canvas_value(message) is not None]
    if not strokes:
        raise RuntimeError("the browser sent no drawing: did the canvas change?")
    clearing = [message for message in sent[drawn:] if is_rerun(message)]
    if clears and len(clearing) != CLEARING_RERUNS:
        raise RuntimeError(f"Clear asked for {len(clearing)} reruns, not {CLEARING_RERUNS}")
    return Recording([m for m in sent[:opened] if is_rerun(m)], strokes[-1], answer, clearing)


def is_rerun(message: bytes) -> bool:
    """Whether a message a page sent to Streamlit asks for a run of the script."""
    back = BackMsg()
    back.ParseFromString(message)
    return back.WhichOneof("type") == "rerun_script"


def _canvas_value(message: bytes) -> dict | None:
    back = BackMsg()
    back.ParseFromString(message)
    for widget in back.rerun_script.widget_states.widgets:
        if widget.id.endswith(CANVAS_KEY) and widget.json_value:
            return json.loads(widget.json_value)
    return None


def stroke_message(template: bytes, strokes: Sequence[Stroke]) -> bytes:
    """The recorded stroke's message with `strokes` (canvas pixels) as the drawing sent."""
    back = BackMsg()
    back.ParseFromString(template)
    for widget in back.rerun_script.widget_states.widgets:
        if widget.id.endswith(CANVAS_KEY):
            value = json.loads(widget.json_value)
            value["drawing"] = {"raw": canvas_drawing(strokes), "data": None}
            widget.json_value = json.dumps(value)
    return back.SerializeToString()


def writers_drawings(seed: int = 0) -> Iterator[tuple[list[Stroke], int]]:
    """Drawings by the test writers (scripts/writers.py) without end, as (strokes, digit): a
    random writer and digit each, as a pointer draws them (`as_pen_strokes`)."""
    rng = np.random.default_rng(seed)
    people = make_writers(writer_fonts(validation=False), DEFAULT_SEED)
    while True:
        writer, digit = people[rng.integers(len(people))], int(rng.integers(10))
        yield as_pen_strokes(writer.strokes(digit, rng)[0]), digit


def as_pen_strokes(segments: Sequence[Stroke]) -> list[list[Point]]:
    """A writer's short segments (in no order) joined where they meet into strokes, with a
    point about every POINTER_SPACING_PX: a browser sends tens of points a stroke, not a
    segment per skeleton pixel, and the server's work grows with both."""
    ends: dict[Point, list[tuple[int, Point]]] = defaultdict(list)
    for index, (start, end) in enumerate(segments):
        ends[_meeting(start)].append((index, tuple(end)))
        ends[_meeting(end)].append((index, tuple(start)))
    used: set[int] = set()
    strokes = []
    for start in sorted(ends, key=lambda point: len(ends[point]) != 1):  # loose ends first
        while any(index not in used for index, _ in ends[start]):
            stroke, here = [start], start
            while step := next((e for e in ends[_meeting(here)] if e[0] not in used), None):
                used.add(step[0])
                here = step[1]
                if math.dist(stroke[-1], here) >= POINTER_SPACING_PX:
                    stroke.append(here)
            if stroke[-1] != here:
                stroke.append(here)
            strokes.append(stroke)
    return strokes


def _meeting(point: Sequence[float]) -> Point:
    """Where segments meet: their shared end, rounded against floating-point noise."""
    return round(point[0], 3), round(point[1], 3)


def drawings_read_right(
    drawings: Iterable[tuple[Sequence[Stroke], int]], classifier, template: bytes, count: int
) -> list[tuple[bytes, str]]:
    """The first `count` of `drawings` ((strokes, digit)) that `classifier` reads right as the
    Draw page does, each as (the recorded stroke's message carrying it, the Prediction the page
    should show). Only drawings read right, so that a person's kept drawings (all right) can
    only confirm their later answers."""
    read_right = []
    for strokes, digit in drawings:
        if read_drawing(strokes, classifier).verdict.digit == digit:
            read_right.append((stroke_message(template, strokes), str(digit)))
            if len(read_right) == count:
                break
    return read_right


def _prediction_in(forward: ForwardMsg) -> str | None:
    if forward.WhichOneof("type") != "delta":
        return None
    element = forward.delta.new_element
    if element.WhichOneof("type") == "metric" and element.metric.label == PREDICTION:
        return element.metric.body
    return None


def _finished(forward: ForwardMsg) -> bool:
    return forward.WhichOneof("type") == "script_finished"


def _kept(forward: ForwardMsg) -> bool:
    element = forward.delta.new_element
    return element.WhichOneof("type") == "toast" and element.toast.body.startswith(KEPT)


class Person:
    """One simulated person: a session of their own (their name in the link and the name
    field), drawing their own digits in turn and, if asked, labelling each one read right;
    pressing Clear after each as the recorded browser did, if it did."""

    def __init__(self, url: str, name: str, recording: Recording, drawings: list[tuple]):
        self.url, self.name, self.recording = url, name, recording
        self.drawings = [(_as_person(message, name), digit) for message, digit in drawings]
        self.opening = [_as_person(message, name) for message in recording.opening]
        self.clearing = [_as_person(message, name) for message in recording.clearing]
        self.reruns = 0  # asked for since the page opened: strokes, keeps and Clears
        self.seconds: list[float] = []
        self.wrong = self.missing = self.labelled = 0
        self.dropped = False  # the connection was lost (its server process died)
        self.until = float("inf")

    async def attend(
        self,
        opened: asyncio.Barrier,
        go: asyncio.Event,
        period: float,
        label_every: int | None = None,
    ) -> None:
        """Open the Draw page, wait at `opened` for everyone, then once `go` is set draw a
        drawing every `period` seconds until they run out or `self.until` passes, keeping every
        `label_every`th one read right."""
        headers = {"Cookie": f"mnist_replica={self.name}"}
        try:
            async with connect(
                self.url, subprotocols=["streamlit"], additional_headers=headers, max_size=None
            ) as socket:
                await _send_each(socket, self.opening)
                await opened.wait()
                await go.wait()
                await asyncio.sleep(random.uniform(0, period))
                await self._draw(socket, period, label_every)
        except ConnectionClosed:
            self.dropped = True

    async def _draw(self, socket, period: float, label_every: int | None) -> None:
        for message, expected in self.drawings:
            if time.monotonic() >= self.until:
                return
            started = time.monotonic()
            await socket.send(message)
            self.reruns += 1
            seen: list[ForwardMsg] = []
            try:
                answer = await asyncio.wait_for(
                    _until(socket, _prediction_in, seen), ANSWER_TIMEOUT_S
                )
            except TimeoutError:
                self.missing += 1
                return
            self.seconds.append(time.monotonic() - started)
            self.wrong += answer != expected
            await _until(socket, _finished, seen)
            if label_every and answer == expected and len(self.seconds) % label_every == 0:
                await socket.send(_pressed(message, _button_id(seen, RIGHT)))
                self.reruns += 1
                try:
                    await asyncio.wait_for(_until(socket, _kept), ANSWER_TIMEOUT_S)
                except TimeoutError:
                    self.missing += 1  # kept or not, the person was not told in time
                    return
                await _until(socket, _finished)
                self.labelled += 1
            await _send_each(socket, self.clearing)
            self.reruns += len(self.clearing)
            await asyncio.sleep(max(0.0, started + period - time.monotonic()))


async def _send_each(socket, messages: list[bytes]) -> None:
    """Send `messages`, each once the run the one before asked for has finished."""
    for message in messages:
        await socket.send(message)
        await _until(socket, _finished)


async def _until(socket, found, seen: list | None = None):
    """Read messages until `found(message)` is true of one; return what it returned."""
    while True:
        forward = ForwardMsg()
        forward.ParseFromString(await socket.recv())
        if seen is not None:
            seen.append(forward)
        result = found(forward)
        if result:
            return result


def _as_person(message: bytes, name: str) -> bytes:
    """`message` sent by `name`: their name in the link and in the Draw page's name field."""
    back = BackMsg()
    back.ParseFromString(message)
    back.rerun_script.query_string = f"person={name}"
    for widget in back.rerun_script.widget_states.widgets:
        if widget.id.endswith(PERSON_KEY):
            widget.string_value = name
    return back.SerializeToString()


def _pressed(message: bytes, button_id: str) -> bytes:
    """`message` (a stroke's) with the button `button_id` pressed, as a browser sends a click."""
    back = BackMsg()
    back.ParseFromString(message)
    back.rerun_script.widget_states.widgets.add(id=button_id, trigger_value=True)
    return back.SerializeToString()


def _button_id(messages: list[ForwardMsg], label_start: str) -> str:
    for forward in messages:
        element = forward.delta.new_element
        if element.WhichOneof("type") == "button" and element.button.label.startswith(label_start):
            return element.button.id
    raise RuntimeError(f"no button labelled {label_start!r} came with the answer")


def replays_right(ws_url: str, recording: Recording) -> bool:
    """Whether the browser's own stroke, replayed in a new session, gets the browser's answer."""
    replay = Person(ws_url, "replay", recording, [(recording.stroke, recording.answer)])

    async def attend() -> None:
        opened, go = asyncio.Barrier(1), asyncio.Event()
        go.set()
        await replay.attend(opened, go, period=0.01)

    run_apart(attend())
    return replay.seconds != [] and replay.wrong == 0 and replay.missing == 0


def redrawn_by(ws_url: str, recording: Recording, messages: list[bytes]) -> list[str]:
    """What the server redraws for the last of `messages` (the recording's), replayed in a new
    session after its opening and the others: one entry per element ("metric Prediction",
    "button Clear", ...) and "block" per container."""

    async def replay() -> list[ForwardMsg]:
        async with connect(ws_url, subprotocols=["streamlit"], max_size=None) as socket:
            await _send_each(socket, [*recording.opening, *messages[:-1]])
            seen: list[ForwardMsg] = []
            await socket.send(messages[-1])
            await _until(socket, _finished, seen)
            return seen

    redrawn = []
    for forward in run_apart(replay()):
        if forward.WhichOneof("type") != "delta":
            continue
        if forward.delta.WhichOneof("type") == "add_block":
            redrawn.append("block")
        elif forward.delta.WhichOneof("type") == "new_element":
            element = forward.delta.new_element
            kind = element.WhichOneof("type")
            label = getattr(getattr(element, kind), "label", "")
            redrawn.append(f"{kind} {label}".strip())
    return redrawn


def run_apart(coroutine):
    """`asyncio.run(coroutine)` in a thread of its own, and its result: Playwright's sync API
    keeps an event loop in the calling thread, where asyncio.run may not start another."""
    outcome: list = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(coroutine))
        except BaseException as error:  # handed to the caller below
            failure.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]
