"""The least a stroke can cost the server: the Draw page's canvas, its model and a Prediction
metric in a fragment with Clear above the canvas, nothing else. bench/classroom.py and
bench/stroke_cpu.py serve it beside the app, as the floor of Streamlit's own machinery per
rerun. With MNIST_BENCH_CANVAS_ONLY=1 (bench/rerun_floor.py) not even that: the canvas
component as it comes and a Prediction that does not look at the drawing, so that only
Streamlit's own work is left.

    streamlit run bench/minimal_app.py     (reads the newest saved model)
"""

import os

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app_pages.active_model import cached_classifier, file_version
from app_pages.blas_threads import use_one_blas_thread
from app_pages.canvas import BLANK_CANVAS_HINT, clear_canvas, drawing_canvas
from mnist_core.answer import read_drawing
from mnist_core.preprocess import EmptyImageError
from mnist_core.store import SavedModel, list_models
from mnist_core.strokes import CANVAS_SIZE, STROKE_WIDTH

CANVAS_ONLY = os.environ.get("MNIST_BENCH_CANVAS_ONLY") == "1"


def draw() -> None:
    canvas_and_answer(list_models()[0])  # once per page run, as the Draw page finds its model


@st.fragment
def canvas_and_answer(saved: SavedModel) -> None:
    st.button("Clear", on_click=clear_canvas)  # in the fragment, as on the Draw page
    strokes = drawing_canvas(STROKE_WIDTH, key="canvas")
    try:
        answer = read_drawing(strokes, cached_classifier(str(saved.path), file_version(saved)))
    except EmptyImageError:
        st.caption(BLANK_CANVAS_HINT)  # the Draw page's words, which Clear's helper waits for
        return
    st.metric("Prediction", str(answer.verdict.digit))


@st.fragment
def draw_without_a_model() -> None:
    drawing = st_canvas(
        stroke_width=STROKE_WIDTH,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=CANVAS_SIZE,
        width=CANVAS_SIZE,
        drawing_mode="freedraw",
        key="canvas",
    ).json_data
    if drawing and drawing.get("objects"):
        st.metric("Prediction", "7")


def about() -> None:
    st.write("The floor of a stroke's cost: bench/classroom.py.")


use_one_blas_thread()  # as the app's server does
# Two pages, so that the sidebar shows the link a recording follows to "Draw".
pages = [st.Page(draw_without_a_model if CANVAS_ONLY else draw, title="Draw", default=True)]
st.navigation([*pages, st.Page(about, title="About")]).run()
