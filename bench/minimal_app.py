"""The least a stroke can cost the server: the Draw page's canvas, its model and a Prediction
metric in a fragment, nothing else. bench/classroom.py serves it beside the app, as the floor
of Streamlit's own machinery per rerun.

    streamlit run bench/minimal_app.py     (reads the newest saved model)
"""

import streamlit as st

from app_pages.active_model import cached_classifier, file_version
from app_pages.canvas import drawing_canvas
from mnist_core.answer import read_digit
from mnist_core.preprocess import EmptyImageError
from mnist_core.store import list_models
from mnist_core.strokes import STROKE_WIDTH


@st.fragment
def draw() -> None:
    saved = list_models()[0]
    picture = drawing_canvas(STROKE_WIDTH, 0, key="canvas")
    if picture is not None:
        try:
            answer = read_digit(picture, cached_classifier(str(saved.path), file_version(saved)))
        except EmptyImageError:
            return
        st.metric("Prediction", str(answer.verdict.digit))


def about() -> None:
    st.write("The floor of a stroke's cost: bench/classroom.py.")


# Two pages, so that the sidebar shows the link a recording follows to "Draw".
st.navigation([st.Page(draw, title="Draw", default=True), st.Page(about, title="About")]).run()
