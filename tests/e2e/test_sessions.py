"""Several people on one server at once, each in a browser context of their own (a Streamlit
session): one training job for everyone, answers that stay in their own session, a model deleted
while another session reads with it, and a tab closed while its model trains."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from mnist_core.classify import Classifier
from mnist_core.store import SavedModel, list_models, load_model, read_saved_model, save_model
from tests.e2e.browser import (
    DIGIT_STROKES,
    MODEL_PICKER,
    VIEWPORT,
    ConsoleErrors,
    StreamlitServer,
    clear_canvas,
    draw,
    draw_digit,
    fill_train_form,
    go_to,
    main,
    pick_model,
    prediction,
    process_tree,
    train_button,
    wait_until_idle,
)
from tests.e2e.conftest import HARMLESS_CONSOLE_ERRORS
from tests.e2e.test_train import RUN_TIMEOUT_MS, outcome, progress_bar

pytestmark = pytest.mark.e2e

TRAINING_PROCESS = "mnist_core.jobs"  # in the command line of a training job's child process
SMALL_RUN = {"Validation images": 500}  # the server trains on a 3000-image slice
DRAWERS = 10
DIGITS = (0, 1, 7)
OpenSessions = Callable[[int], list[Page]]


@pytest.fixture
def new_sessions(browser: Browser, server: StreamlitServer) -> Iterator[OpenSessions]:
    """Opens the app in `count` new browser contexts, each a session of its own, loading them
    all before waiting for their first runs; a console error in any of them fails the test."""
    contexts, watchers = [], []

    def open_sessions(count: int) -> list[Page]:
        pages = []
        for _ in range(count):
            context = browser.new_context(viewport=VIEWPORT)
            contexts.append(context)
            pages.append(context.new_page())
            watchers.append(ConsoleErrors(pages[-1]))
            pages[-1].goto(server.url)
        for page in pages:
            wait_until_idle(page)
        return pages

    yield open_sessions
    for context in contexts:
        context.close()  # a context the test closed already is left as it is
    unexpected = [m for w in watchers for m in w.unexpected(HARMLESS_CONSOLE_ERRORS)]
    if unexpected:
        pytest.fail("the browser reported errors:\n" + "\n".join(unexpected), pytrace=False)


@pytest.fixture
def doomed_model(reference_model: SavedModel, models_folder: Path) -> SavedModel:
    """The reference model saved again under another name, for a test to delete. It keeps the
    reference's date, so it is not the newest model, the one a session starts with."""
    doomed = save_model(
        load_model(reference_model.path), reference_model.record, "doomed", models_folder
    )
    sidecar = json.loads(doomed.sidecar_path.read_text())
    sidecar["created"] = reference_model.record.created.isoformat()
    doomed.sidecar_path.write_text(json.dumps(sidecar))
    return read_saved_model(doomed.path)


def click_at_once(buttons: list[Locator], delay_s: float = 1.0) -> None:
    """Click `buttons` (in different pages) at the same moment, `delay_s` from now.

    Playwright drives one page at a time, so each page is told the moment and clicks by
    itself: the clicks reach the server a few milliseconds apart, closer than people click.
    (Whether both runs then read "no job yet" before either starts one is up to the server's
    threads: about half the time, measured.)"""
    moment_ms = (time.time() + delay_s) * 1000
    for button in buttons:
        button.evaluate(
            "(button, at) => setTimeout(() => button.click(), at - Date.now())", moment_ms
        )
    time.sleep(delay_s)


def model_names(folder: Path) -> set[str]:
    return {saved.name for saved in list_models(folder)}


def training_processes(server: StreamlitServer) -> list[int]:
    """The server's training-job child processes that are running now."""
    return [pid for pid in process_tree(server.process.pid) if TRAINING_PROCESS in _command(pid)]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:  # it ended while we looked
        return ""


def test_two_sessions_pressing_train_at_once_share_one_job(new_sessions, server, models_folder):
    pages = new_sessions(2)
    before = model_names(models_folder)
    for page in pages:
        go_to(page, "Train")
        fill_train_form(page, {"Epochs": 50, **SMALL_RUN})
    click_at_once([train_button(page) for page in pages])

    second_epoch = re.compile(r"Epoch ([2-9]|\d\d) of 50")
    for page in pages:
        expect(progress_bar(page)).to_contain_text(second_epoch, timeout=RUN_TIMEOUT_MS)
    assert len(training_processes(server)) == 1
    # Either session controls the shared job: the second one stops it for both.
    main(pages[1]).get_by_role("button", name="Stop", exact=True).click()
    ended = [outcome(page) for page in pages]

    assert training_processes(server) == []
    (saved,) = model_names(models_folder) - before
    for sentence in ended:
        assert re.search(rf"stopped at epoch \d+ of 50.* saved as {saved}\b", sentence, re.I)


def test_ten_sessions_drawing_at_once_each_get_their_own_answer(new_sessions, reference_model):
    pages = new_sessions(DRAWERS)
    for page in pages:
        go_to(page, "Draw")
        pick_model(page, reference_model.name)  # newer models were trained on the small slice

    for round_number in range(2):  # each session's answer changes from one round to the next
        digits = [DIGITS[(n + round_number) % len(DIGITS)] for n in range(DRAWERS)]
        for page, digit in zip(pages, digits, strict=True):  # no waiting for answers between
            draw(page, DIGIT_STROKES[digit], steps_per_segment=1)  # a move per point
        for page, digit in zip(pages, digits, strict=True):
            expect(prediction(page)).to_have_text(str(digit))
        for page in pages:
            clear_canvas(page)


def test_deleting_the_model_another_session_reads_with_leaves_that_session_working(
    new_sessions, doomed_model, models_folder
):
    reader, deleter = new_sessions(2)
    go_to(reader, "Draw")
    pick_model(reader, doomed_model.name)
    draw_digit(reader, 7)
    expect(prediction(reader)).to_have_text("7")

    go_to(deleter, "Models")
    pick_model(
        deleter, doomed_model.name, main(deleter).get_by_role("combobox", name="Model", exact=True)
    )
    main(deleter).get_by_role("button", name="Delete…", exact=True).click()
    main(deleter).get_by_role("button", name="Yes, delete", exact=True).click()
    expect(main(deleter).get_by_text(f"Deleted {doomed_model.name}.")).to_be_visible()
    assert doomed_model.name not in model_names(models_folder)

    # The reader's next stroke still gets an answer, and its next page run reads with the
    # newest model: go_to fails on an exception box.
    clear_canvas(reader)
    draw_digit(reader, 1)
    expect(prediction(reader)).to_have_text(re.compile(r"^\d$"))
    newest = list_models(models_folder)[0].name
    go_to(reader, "Models")
    go_to(reader, "Draw")
    expect(main(reader).get_by_text(f"Read by {newest}.")).to_be_visible()
    picked = reader.locator(MODEL_PICKER).get_by_role("combobox")
    expect(picked).to_have_value(re.compile(f"^{re.escape(newest)} · "))  # name · kind · score
    draw_digit(reader, 0)
    expect(prediction(reader)).to_have_text(re.compile(r"^\d$"))


def test_training_goes_on_after_its_tab_is_closed(new_sessions, server, models_folder):
    epochs = 20
    (trainer,) = new_sessions(1)
    before = model_names(models_folder)
    go_to(trainer, "Train")
    fill_train_form(trainer, {"Epochs": epochs, **SMALL_RUN})
    train_button(trainer).click()
    expect(progress_bar(trainer)).to_contain_text(
        re.compile(rf"Epoch \d+ of {epochs}"), timeout=RUN_TIMEOUT_MS
    )
    trainer.context.close()
    assert training_processes(server), "the run ended before its tab closed: make it longer"

    (watcher,) = new_sessions(1)
    go_to(watcher, "Train")  # the job still running, or already finished
    ended = outcome(watcher)
    (name,) = model_names(models_folder) - before
    assert name in ended
    saved = next(saved for saved in list_models(models_folder) if saved.name == name)
    assert saved.record.epochs_run == epochs
    assert not saved.record.stopped_early
    Classifier.load(saved.path)
    go_to(watcher, "Models")
    pick_model(watcher, name, main(watcher).get_by_role("combobox", name="Model", exact=True))
