"""The Draw page's "Why this answer?": which ink speaks for the answer and for the runner-up,
the training digits the drawing looks like to the network, and the network's inside.

It is shown only when asked for (a toggle), and after the answer, so the answer comes as
fast as ever. Everything is NumPy on the saved layers (`mnist_core.explain`).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.active_model import cached_classifier
from mnist_core import plots
from mnist_core.answer import Answer
from mnist_core.classify import Classifier
from mnist_core.data import DataError, prepare_mnist
from mnist_core.explain import Neighbours, evidence, runner_up, training_neighbours
from mnist_core.personal import PersonalClassifier

LOOK_ALIKES = 8
_SCALE = 3  # a look-alike's 28x28 at 84 px
_WANTED = "why_wanted"
_LAYER_NAMES = {"Dense": "dense layer", "Conv2D": "convolution"}


def why_ui(answer: Answer, reader: PersonalClassifier, model_path: str, version: int) -> None:
    """Under the canvas' answer, behind a toggle."""
    # The toggle is gone while the canvas is blank, and Streamlit forgets a widget that is not
    # drawn: the wish is kept apart, so the next drawing is explained too.
    wanted = st.toggle(
        "Why this answer?", value=st.session_state.get(_WANTED, False), key="why_shown"
    )
    st.session_state[_WANTED] = wanted
    if wanted:
        _explanation(answer, reader, model_path, version)


def upload_why_ui(
    answer: Answer, reader: PersonalClassifier, model_path: str, version: int, key: str
) -> None:
    """Under an uploaded picture's answer, behind a toggle of its own."""
    if st.toggle("Why?", key=key):
        _explanation(answer, reader, model_path, version)


def _explanation(answer: Answer, reader: PersonalClassifier, model_path: str, version: int):
    network = reader.base
    said = answer.verdict.digit
    probabilities = network.probabilities(answer.image)
    network_says = int(probabilities.argmax())
    if network_says != said:
        st.caption(
            f"Your memory answered {said}; the network alone reads {network_says}. "
            "What follows is the network's view."
        )
    evidence_tab, looks_tab, inside_tab = st.tabs(["Evidence", "Looks like", "Inside the network"])
    with evidence_tab:
        _evidence(network, answer.image, probabilities)
    with looks_tab:
        _look_alikes(network, answer.image, model_path, version, reader)
    with inside_tab:
        _inside(network, answer.image)


def _evidence(network: Classifier, image: np.ndarray, probabilities: np.ndarray) -> None:
    first, second = int(probabilities.argmax()), runner_up(probabilities)
    columns = st.columns(2)
    for column, digit in zip(columns, (first, second), strict=True):
        column.image(
            plots.evidence_picture(image, evidence(network, image, digit)),
            caption=f"For {digit} ({probabilities[digit]:.0%})",
            output_format="PNG",
        )
    st.caption(
        f"Why {first} and not {second}: red ink makes the network more sure of that digit, "
        "blue ink less (each pixel's ink taken away in turn, and the answer measured again)."
    )


def _look_alikes(
    network: Classifier, image: np.ndarray, model_path: str, version: int, reader
) -> None:
    try:
        pool = _training_pool(model_path, version)
    except DataError as error:
        st.warning(f"The training digits cannot be read: {error}.")
        return
    nearest = pool.nearest(network, image, LOOK_ALIKES)
    st.caption(
        f"The MNIST training digits nearest to yours in the network's last hidden layer (of "
        f"{len(pool.labels):,}), where it puts what it takes for the same digit:"
    )
    _gallery(pool.images[nearest], pool.labels[nearest])
    if reader.size:
        own = Neighbours.of(network, reader.images, reader.labels)
        mine = own.nearest(network, image, 4)
        st.caption("And the nearest of the drawings you labelled:")
        _gallery(own.images[mine], own.labels[mine])


def _gallery(images: np.ndarray, labels: np.ndarray) -> None:
    pictures = [plots.enlarged(image, _SCALE) for image in images]
    st.image(pictures, caption=[f"a {label}" for label in labels], output_format="PNG")


def _inside(network: Classifier, image: np.ndarray) -> None:
    st.caption("Top to bottom, what each layer makes of your drawing; white is its strongest.")
    st.image(plots.enlarged(image, _SCALE), caption="The input, 28x28", output_format="PNG")
    responses = network.responses(image)
    for number, (kind, values) in enumerate(responses, start=1):
        last = number == len(responses)
        if last:
            about = "the 10 digits, 0 to 9 from left to right"
        elif values.ndim == 1:
            about = f"{len(values)} units"
        else:
            about = f"{values.shape[-1]} maps of {values.shape[0]}x{values.shape[1]}"
        name = "Output" if last else f"Layer {number}, a {_LAYER_NAMES[kind]}"
        st.image(plots.response_picture(values), caption=f"{name}: {about}", output_format="PNG")
    kind = "templates, one per unit" if network.first_kernel.ndim == 2 else "3x3 filters"
    st.image(
        plots.kernel_picture(network.first_kernel),
        caption=f"What layer 1 looks for: its weights as {kind} (red adds, blue takes away)",
        output_format="PNG",
    )


@st.cache_resource(
    max_entries=8, show_spinner="Seeing MNIST's training digits as the network does (once)…"
)
def _training_pool(model_path: str, version: int) -> Neighbours:
    """The training digits in the network's eyes, once per model file."""
    network = cached_classifier(model_path, version)
    return training_neighbours(network, prepare_mnist())
