"""Draw page: draw a digit or upload pictures of digits, and see what the active model reads
with the memory of your handwriting; label the drawings it misreads (or reads right), and the
next one like them is read right at once: they are also a test set of your own."""

from __future__ import annotations

import string

import numpy as np
import pyarrow as pa
import streamlit as st

from app_pages.access import is_locked, locked_help, unlock_ui
from app_pages.active_model import active_model, file_version
from app_pages.canvas import BLANK_CANVAS_HINT, clear_canvas, drawing_canvas
from app_pages.feedback_ui import gallery_ui, label_ui, show_notice
from app_pages.figures import inline_png
from app_pages.person import memory_ui, memoryless_reader, person_ui, personal_reader
from app_pages.training_job import TRAIN_PAGE, start_training
from app_pages.why_ui import upload_why_ui, why_ui
from mnist_core.answer import PREVIEW_SCALE, Answer, DigitClassifier, read_digit, read_drawing
from mnist_core.config import TrainConfig
from mnist_core.feedback import FeedbackError
from mnist_core.personal import PersonalClassifier
from mnist_core.preprocess import EmptyImageError, ImageError, load_image
from mnist_core.store import ModelFileError, SavedModel, list_models
from mnist_core.strokes import PEN_WIDTHS, STROKE_WIDTH, Point

_PEN_WIDTH = "pen_width"  # the slider's key
_UPLOAD_COLUMNS = 4
_THUMBNAIL_SCALE = 3  # an upload's 28x28 is shown at 84 px
_TOP_COLOUR, _OTHER_COLOUR = "#ff4b4b", "#a3a8b8"
_CANVAS_AND_ANSWER = [5, 7]  # the columns' widths


def draw_page() -> None:
    st.title("Draw a digit")
    st.caption(
        "A neural network trained on MNIST, 70,000 handwritten digits, reads what you draw. "
        "Correct it when it is wrong and it learns your handwriting at once; train models of "
        "your own on the Train page and compare them on the Models page."
    )
    show_notice()
    saved = active_model(list_models())
    if saved is None:
        _offer_reference_training()
        return
    name_column, model_column = st.columns([1, 2], vertical_alignment="bottom")
    with name_column:
        person = person_ui()
    try:
        reader = _reader_for(saved, person)
    except ModelFileError as error:
        st.error(
            f"The model **{saved.name}** cannot be used: {error}. "
            "Pick another model in the sidebar, or train a new one."
        )
        return
    model_column.caption(f"Read by **{saved.name}**. Pick another model in the sidebar.")
    memory_ui(reader, person)
    _drawing_ui(reader, saved, person)
    st.divider()
    _upload_ui(reader, saved, person)
    st.divider()
    gallery_ui(saved, person)


def _reader_for(saved: SavedModel, person: str) -> PersonalClassifier:
    """`person`'s reader; the model alone, said plainly, when their drawings cannot be read."""
    try:
        return personal_reader(saved, person)
    except FeedbackError as error:
        st.warning(f"Your labelled drawings cannot be read, so the model reads alone: {error}.")
        return memoryless_reader(saved)


@st.fragment
def _drawing_ui(reader: PersonalClassifier, saved: SavedModel, person: str) -> None:
    """The canvas with Clear and the pen above it, and its answer; a fragment, so a stroke or
    Clear reruns only this part of the page, not the whole of it."""
    canvas_column, answer_column = st.columns(_CANVAS_AND_ANSWER, gap="large")
    with canvas_column:
        strokes = drawing_canvas(_canvas_controls(), key="canvas")
    with answer_column:
        answer = _read_or_none(strokes, reader)
        if answer is None:
            st.info(BLANK_CANVAS_HINT)
        else:
            _show_answer(answer)
            label_ui(answer, saved.name, person, "canvas", strokes=strokes)
            why_ui(answer, reader, str(saved.path), file_version(saved))


def _canvas_controls() -> int:
    """Clear and the pen; the pen's width."""
    controls = st.container(horizontal=True, vertical_alignment="bottom")
    controls.markdown("**Your digit**", width="content")
    controls.button("Clear", on_click=clear_canvas)
    return controls.slider(
        "Pen width",
        *PEN_WIDTHS,
        STROKE_WIDTH,
        key=_PEN_WIDTH,
        help="How thick your strokes look. The model reads the lines you drew with a pen of "
        "its own, as thick as MNIST's, so every width reads the same.",
    )


def _read_or_none(strokes: list[list[Point]], classifier: DigitClassifier) -> Answer | None:
    try:
        return read_drawing(strokes, classifier)
    except EmptyImageError:
        return None


def _show_answer(answer: Answer) -> None:
    """The 28x28 image the model saw, its verdict and all ten probabilities."""
    verdict = answer.verdict
    picture_and_verdict = st.container(horizontal=True, gap="medium")
    picture_and_verdict.image(
        inline_png(answer.preview()),
        caption="What the model sees (28x28)",
        width=28 * PREVIEW_SCALE,  # whole screen pixels per model pixel: the browser adds no blur
    )
    with picture_and_verdict.container():
        st.metric(
            "Prediction",
            str(verdict.digit),
            delta=f"{verdict.probability:.0%} probability",
            delta_color="off",
            delta_arrow="off",
        )
        if not verdict.is_sure:
            st.warning(
                f"{str(verdict).capitalize()} "
                f"({verdict.probability:.0%} vs {verdict.runner_up_probability:.0%})."
            )
    _probability_chart(answer)


def _probability_chart(answer: Answer) -> None:
    """All ten probabilities as bars on a fixed 0-100% scale, the answer in colour.

    A plain Vega-Lite spec over an Arrow table, the cheapest per stroke: Altair, inline values
    or a DataFrame would each be rebuilt or converted through pandas on every stroke."""
    top = answer.verdict.digit
    table = pa.table(
        {
            "digit": [str(digit) for digit in range(10)],
            "probability": np.asarray(answer.probabilities, dtype=np.float64),
        }
    )
    spec = {
        "mark": {"type": "bar", "tooltip": True},
        "height": 190,
        "encoding": {
            "x": {"field": "digit", "type": "ordinal", "axis": {"labelAngle": 0}},
            "y": {
                "field": "probability",
                "type": "quantitative",
                "scale": {"domain": [0, 1]},
                "axis": {"format": "%"},
            },
            "color": {
                "condition": {"test": f"datum.digit == '{top}'", "value": _TOP_COLOUR},
                "value": _OTHER_COLOUR,
            },
        },
    }
    st.vega_lite_chart(table, spec, width="stretch")


def _upload_ui(reader: PersonalClassifier, saved: SavedModel, person: str) -> None:
    st.subheader("Or upload pictures of digits")
    uploads = st.file_uploader(
        "PNG or JPEG pictures, one digit each",
        type=["png", "jpg", "jpeg"],
        accept_multiple_files=True,
        help="Dark ink on light paper or light on dark both work: "
        "each picture is prepared the way MNIST's digits were.",
    )
    for start in range(0, len(uploads), _UPLOAD_COLUMNS):
        row = uploads[start : start + _UPLOAD_COLUMNS]
        for upload, column in zip(row, st.columns(_UPLOAD_COLUMNS), strict=False):
            with column.container(border=True):
                _show_upload(upload, reader, saved, person)


def _show_upload(upload, reader: PersonalClassifier, saved: SavedModel, person: str) -> None:
    """One upload's card: its whole name, what the model sees, the answer, and labelling."""
    upload.seek(0)  # the same file object may have been read by an earlier run
    try:
        answer = read_digit(load_image(upload), reader)
    except EmptyImageError:
        st.warning(f"**{upload.name}** is blank: there is no digit in it.")
        return
    except ImageError as error:
        st.error(str(error))  # names the file and says what is wrong
        return
    st.markdown(f"**{_escaped(upload.name)}**")  # wraps: a metric's label would be cut off
    verdict = answer.verdict
    image_column, verdict_column = st.columns([1, 1])
    image_column.image(
        answer.preview(_THUMBNAIL_SCALE),
        caption="28x28",
        width=28 * _THUMBNAIL_SCALE,
        output_format="PNG",
    )
    verdict_column.metric(
        "Read as",
        str(verdict.digit),
        delta=f"{verdict.probability:.0%}",
        delta_color="off",
        delta_arrow="off",
    )
    if not verdict.is_sure:
        verdict_column.caption(str(verdict).capitalize())
    label_ui(answer, saved.name, person, f"upload_{upload.file_id}")
    upload_why_ui(
        answer, reader, str(saved.path), file_version(saved), key=f"why_upload_{upload.file_id}"
    )


def _escaped(text: str) -> str:
    """`text` shown as it is in markdown: no character of a file name is read as formatting."""
    return "".join(f"\\{c}" if c in string.punctuation else c for c in text)


def _offer_reference_training() -> None:
    st.info(
        "There is no saved model yet to read your digits. Train the reference model "
        "(the MLP with the default settings) in one click, or choose your own settings "
        "on the Train page."
    )
    unlock_ui("first_model")
    left, right = st.columns([1, 3], vertical_alignment="center")
    locked = is_locked()
    if (
        left.button(
            "Train the reference model",
            type="primary",
            disabled=locked,
            help=locked_help() if locked else None,
        )
        and not locked
    ):
        _job, started = start_training(TrainConfig())  # the reference model
        if not started:
            st.toast("A training job is already running: showing its progress.")
        st.switch_page(TRAIN_PAGE)
    right.page_link(TRAIN_PAGE, label="Choose settings on the Train page", icon="⚙️")


draw_page()
