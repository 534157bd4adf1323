"""The load generator's light sessions (bench/classroom.py): a browser's recorded session
replays against the real server, and every simulated person's answers are checked against what
the model says of their drawings here."""

from __future__ import annotations

import asyncio

import pytest

from mnist_core.classify import Classifier
from mnist_core.feedback import FeedbackStore
from mnist_core.store import find_model
from tests.e2e.light_sessions import (
    Person,
    Recording,
    drawings_read_right,
    record,
    redrawn_by,
    replays_right,
    run_apart,
    writers_drawings,
)

pytestmark = pytest.mark.e2e

PEOPLE = 3
DRAWINGS_EACH = 3


@pytest.fixture(scope="module")
def recording(browser, server) -> Recording:
    return record(server.url, browser)


@pytest.fixture
def ws_url(server) -> str:
    return server.url.replace("http://", "ws://") + "/_stcore/stream"


def test_a_recorded_session_replays_and_people_get_their_own_answers_and_keep_drawings(
    recording, ws_url, server, models_folder
):
    assert recording.answer == "7"  # the browser drew a 7, and the reader reads it
    assert replays_right(ws_url, recording)

    drawings = drawings_read_right(
        writers_drawings(seed=5),
        Classifier.load(find_model(recording.model, models_folder).path),
        recording.stroke,
        PEOPLE * DRAWINGS_EACH,
    )
    people = [Person(ws_url, f"tester-{n}", recording, drawings[n::PEOPLE]) for n in range(PEOPLE)]
    # A control whose expected answers are all off by one: the check must catch every one.
    shifted = [(message, str((int(answer) + 1) % 10)) for message, answer in drawings[:2]]
    control = Person(ws_url, "tester-control", recording, shifted)

    async def attend() -> None:
        opened, go = asyncio.Barrier(PEOPLE + 1), asyncio.Event()
        go.set()
        await asyncio.gather(
            *(person.attend(opened, go, period=0.2, label_every=1) for person in people),
            control.attend(opened, go, period=0.2),
        )

    run_apart(attend())

    assert [len(person.seconds) for person in people] == [DRAWINGS_EACH] * PEOPLE
    assert [(person.wrong, person.missing, person.dropped) for person in people] == [
        (0, 0, False)
    ] * PEOPLE
    assert control.wrong == len(shifted)
    store = FeedbackStore.open(server.env["MNIST_FEEDBACK_DB"])
    for person in people:  # each kept every drawing, under their own name
        assert person.labelled == DRAWINGS_EACH
        assert store.count(person.name) == DRAWINGS_EACH
    assert store.count("tester-control") == 0


def test_a_stroke_redraws_the_canvas_and_its_answer(recording, ws_url):
    redrawn = redrawn_by(ws_url, recording, [recording.stroke])

    assert "metric Prediction" in redrawn and "imgs" in redrawn  # the answer and its 28x28
    assert "bidi_component" in redrawn  # the canvas


def test_clear_redraws_the_canvas_and_its_controls_and_not_the_page(recording, ws_url):
    """Each element a rerun redraws costs the server CPU, for every person drawing: Clear,
    pressed once a digit, reruns the canvas' fragment, not the whole page."""
    redrawn = redrawn_by(ws_url, recording, [recording.stroke, *recording.clearing[:1]])

    assert "button Clear" in redrawn and "bidi_component" in redrawn
    assert "metric Prediction" not in redrawn  # the canvas reads as blank at once
    assert not [kind for kind in redrawn if kind.startswith(("text_input", "file_uploader"))]
