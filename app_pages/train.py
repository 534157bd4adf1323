"""Train page: choose hyperparameters, train in the background, watch it learn, see the scores.

Training runs in the server's one job (`app_pages.training_job`); this page only draws snapshots
of it, so it stays responsive, and any session that opens it sees the running job.
"""

from __future__ import annotations

import streamlit as st

from app_pages.access import is_locked, locked_help, unlock_ui
from app_pages.active_model import active_model, set_active_model
from app_pages.figures import show_figure
from app_pages.results import describe_config, model_results, model_summary
from app_pages.training_job import (
    PREVIOUS_MODEL,
    activate_if_followed,
    follow,
    job_runner,
    start_training,
)
from mnist_core import jobs
from mnist_core.config import (
    ARCHITECTURES,
    BOUNDS,
    PRESETS,
    ConfigError,
    TrainConfig,
)
from mnist_core.jobs import JobSnapshot, TrainingJob
from mnist_core.progress import expected_pace
from mnist_core.store import MAX_NAME_LENGTH, ModelFileError, check_name, is_taken, list_models

POLL_SECONDS = 1.0
DRAW_PAGE = "app_pages/draw.py"
NOT_YET = "—"
LIVE_METRICS = {
    "loss": "Training loss",
    "accuracy": "Training accuracy",
    "val_loss": "Validation loss",
    "val_accuracy": "Validation accuracy",
}
REFERENCE = TrainConfig()
ARCHITECTURE_NAMES = {
    "mlp": "MLP (the reference model)",
    "cnn": "CNN (Keras' MNIST convnet)",
    "cnn-dense": "CNN + dense layer (best for drawing)",
}
PRESET_NAMES = {"reference": "Reference MLP", "best": "Best for drawing"}
PRESET_CAPTIONS = {
    "reference": "The preset fills in the reference model; change any field to try your own.",
    "best": "The preset fills in the model that reads drawings best; change any field to try "
    "your own.",
}
PRESET_HELP = (
    "**Reference MLP**: the reference model (about 98% on MNIST, under a minute). "
    "**Best for drawing**: a CNN with a dense layer trained on distorted digits, the model "
    "that reads mouse drawings best (about 99.3% on MNIST; 4 to 13 minutes on a 2-core CPU)."
)
# field -> (label, step, display format, help); bounds and defaults come from TrainConfig
NUMBER_FIELDS = {
    "epochs": ("Epochs", 1, None, "Passes over the training images."),
    "batch_size": ("Batch size", 16, None, "Images per weight update."),
    "hidden_units": (
        "Hidden units",
        16,
        None,
        "Width of each hidden layer (MLP, and the CNN with a dense layer).",
    ),
    "dropout": (
        "Dropout",
        0.05,
        "%.2f",
        "Share of hidden units dropped while training (MLP, and the CNN with a dense layer).",
    ),
    "learning_rate": ("Learning rate", 0.0001, "%g", "Adam's step size."),
    "validation_size": (
        "Validation images",
        1000,
        None,
        "Taken from the end of the training set and scored after every epoch.",
    ),
    "seed": ("Seed", 1, None, "The same seed and settings train the same weights."),
    "ones_bias": (
        "Lean towards 1",
        0.5,
        "%.1f",
        "Added to the model's log-odds of 1 once it is trained, so that a 1 with a flag, "
        "which MNIST's 1s never have, is not read as 7. 0 changes nothing.",
    ),
}


def train_page() -> None:
    st.title("Train")
    job = job_runner().current()
    snapshot = job.snapshot() if job else None
    settings_column, job_column = st.columns([1, 2.4], gap="large")
    with settings_column:
        request = settings_form(busy=snapshot is not None and not snapshot.is_finished)
    if request is not None and not is_locked():  # a disabled button can still be sent
        config, name = request
        start_training(config, name=name)  # or, if another session was quicker, follow its job
        st.rerun()  # redraw the form with its button showing that a job runs
    with job_column:
        if snapshot is None:
            introduction()
        elif not snapshot.is_finished:
            follow(job)
            live_training(job)
        else:
            activate_if_followed(snapshot)
            finished_training(snapshot)


def settings_form(busy: bool) -> tuple[TrainConfig, str | None] | None:
    """The hyperparameter form; once submitted with valid values, the config to train and the
    name to save it as (None: the architecture and the time)."""
    with st.container(border=True):
        st.subheader("Settings")
        unlock_ui("train")
        st.radio(
            "Preset",
            list(PRESETS),
            format_func=PRESET_NAMES.get,
            horizontal=True,
            key="train_preset",
            on_change=_apply_preset,
            help=PRESET_HELP,
            disabled=busy,
        )
        return _settings_fields(busy)


def _apply_preset() -> None:
    """Fill the form with the chosen preset's settings."""
    preset = PRESETS[st.session_state["train_preset"]]
    st.session_state["train_architecture"] = preset.architecture
    st.session_state["train_augment"] = preset.augment
    for name in NUMBER_FIELDS:
        st.session_state[f"train_{name}"] = getattr(preset, name)


def _fill_in_defaults() -> None:
    """Start the form with the reference model's settings, in Session State only: a widget that
    is given a default too while a preset sets its value makes Streamlit log a warning."""
    st.session_state.setdefault("train_architecture", REFERENCE.architecture)
    st.session_state.setdefault("train_augment", REFERENCE.augment)
    for name in NUMBER_FIELDS:
        st.session_state.setdefault(f"train_{name}", getattr(REFERENCE, name))


def _settings_fields(busy: bool) -> tuple[TrainConfig, str | None] | None:
    _fill_in_defaults()
    with st.form("train_settings", border=False):
        # First: on a laptop's screen the button is in view without scrolling past the fields.
        label = "A model is training…" if busy else "Train"
        locked = is_locked()
        submitted = st.form_submit_button(
            label,
            type="primary",
            disabled=busy or locked,
            width="stretch",
            help=locked_help() if locked else None,
        )
        if not busy and (expected := _expected_time()):
            st.caption(expected)  # beside the button: before a wait, not after
        architecture = st.selectbox(
            "Architecture",
            ARCHITECTURES,
            format_func=ARCHITECTURE_NAMES.get,
            key="train_architecture",
        )
        values = {"architecture": architecture}
        names = list(NUMBER_FIELDS)
        for row in range(0, len(names), 2):
            for name, column in zip(names[row : row + 2], st.columns(2), strict=False):
                values[name] = _number_input(name, column)
        values["augment"] = st.checkbox(
            "Augment the training images",
            key="train_augment",
            help="Shift, scale, rotate, shear, thicken or thin and elastically distort every "
            "training image anew each epoch, and write some 1s with a flag and some 7s crossed, "
            "as Europeans do, so the model reads digits drawn off-centre, at any size and "
            "slant. Slower to train.",
        )
        name = st.text_input(
            "Name (optional)",
            key="train_name",
            max_chars=MAX_NAME_LENGTH,
            placeholder="the architecture and the time",
            help="What to call the saved model: letters, digits, '.', '_' or '-'.",
        ).strip()
    if busy:
        st.caption("One model trains at a time on this server; the form frees up when it ends.")
    else:
        st.caption(PRESET_CAPTIONS[st.session_state.get("train_preset", "reference")])
    if not submitted:
        return None
    try:
        config = TrainConfig(**values)
        if name and is_taken(check_name(name)):
            raise ModelFileError(f"a model named {name!r} exists already: choose another name")
    except (ConfigError, ModelFileError) as error:
        st.error(f"Cannot train with these settings: {error}.")
        return None
    return config, name or None


def _expected_time() -> str:
    """How long the chosen preset trains here, judged by a model trained like it before (""
    when none was): worth knowing before a wait of many minutes."""
    preset = PRESETS[st.session_state.get("train_preset", "reference")]
    pace = expected_pace(preset, list_models())
    if pace is None:
        return ""
    return (
        f"This preset trains in about {duration(pace.seconds)} here, at the pace of "
        f"**{pace.model}** ({duration(pace.seconds_per_epoch)} an epoch)."
    )


def _number_input(name: str, column) -> int | float:
    """A field for one setting. Its bounds are checked on Train, by TrainConfig, which says
    what is wrong: a field with bounds of its own only turns red and keeps its old value."""
    label, step, number_format, help_text = NUMBER_FIELDS[name]
    low, high = BOUNDS[name]
    return column.number_input(
        label,
        step=step,
        format=number_format,
        help=f"{help_text} From {_number_text(low)} to {_number_text(high)}.",
        key=f"train_{name}",
    )


def _number_text(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def introduction() -> None:
    if not list_models():
        st.info("No model has been trained yet.")
    st.markdown(
        "Choose the settings and press **Train**. The defaults are the reference model "
        f"({REFERENCE.architecture.upper()}, {REFERENCE.epochs} epochs).\n\n"
        "While it trains you see its progress and learning curves here, and you can stop it "
        "(what it learned so far is kept) or use the other pages. When it ends it is scored on "
        "the test images, saved, and becomes the active model in the sidebar."
    )


@st.fragment(run_every=POLL_SECONDS)
def live_training(job: TrainingJob) -> None:
    """The running job, redrawn every second; when it ends the whole page reruns."""
    snapshot = job.snapshot()
    if snapshot.is_finished:
        st.rerun()
    st.subheader("Training")
    st.caption(_describe_job(snapshot))
    bar_column, stop_column = st.columns([5, 1], vertical_alignment="bottom")
    bar_column.progress(_fraction(snapshot), text=status_line(snapshot))
    locked = is_locked()
    stop_column.button(
        "Stop",
        on_click=_stop,
        args=(job,),
        disabled=snapshot.stop_requested or snapshot.state == jobs.EVALUATING or locked,
        help=locked_help()
        if locked
        else "Stop after the current batch: what was learned so far is scored and saved.",
        key="stop_training",
        width="stretch",
    )
    _latest_metrics(snapshot)
    loss_column, weights_column = st.columns([3, 2])
    with loss_column:
        _loss_per_chunk(snapshot)
    with weights_column:
        _first_layer(snapshot)
    if snapshot.epochs_done:
        _learning_curves(snapshot)
    else:
        st.caption("Learning curves appear here after the first epoch.")


def _loss_per_chunk(snapshot: JobSnapshot) -> None:
    """The training loss batch by batch (each point a chunk of batches), as it falls."""
    if not snapshot.loss_chunks:
        st.caption("The training loss appears here after the first batches.")
        return
    values = [{"epoch": at, "loss": loss} for at, loss in snapshot.loss_chunks]
    st.vega_lite_chart(
        {
            "data": {"values": values},
            "mark": {"type": "line", "point": False},
            "height": 220,
            "title": "Training loss, batch by batch",
            "encoding": {
                "x": {"field": "epoch", "type": "quantitative", "title": "epochs done"},
                "y": {"field": "loss", "type": "quantitative", "scale": {"zero": True}},
            },
        },
        width="stretch",
    )


def _first_layer(snapshot: JobSnapshot) -> None:
    """The first layer's weights after the latest epoch: templates or filters taking shape."""
    from mnist_core.plots import kernel_picture

    if snapshot.first_layer is None:
        st.caption("The first layer's weights appear here after each epoch, as they learn.")
        return
    epoch, kernel = snapshot.first_layer
    st.image(
        kernel_picture(kernel, columns=16 if kernel.ndim == 2 else 8),
        caption=f"Layer 1's weights after epoch {epoch} (red adds, blue takes away)",
        output_format="PNG",
    )


def _stop(job: TrainingJob) -> None:
    if not is_locked():  # a disabled button can still be sent
        job.stop()


def status_line(snapshot: JobSnapshot) -> str:
    """What the job is doing, in the words the progress bar shows."""
    progress = snapshot.progress
    if snapshot.state == jobs.PREPARING:
        return snapshot.messages[-1] if snapshot.messages else "Preparing the data…"
    if snapshot.state == jobs.EVALUATING:
        return "Scoring the test images and saving the model…"
    if progress is None:
        return "Starting TensorFlow and building the model…"
    parts = [
        f"Epoch {progress.epoch} of {progress.epochs}",
        f"batch {progress.batch:,} of {progress.batches:,}",
        f"{duration(progress.elapsed)} elapsed",
    ]
    left = progress.seconds_left
    parts.append("estimating time left" if left is None else f"about {duration(left)} left")
    if snapshot.stop_requested:
        parts.insert(0, "Stopping after this batch")
    return " · ".join(parts)


def _fraction(snapshot: JobSnapshot) -> float:
    if snapshot.state == jobs.EVALUATING:
        return 1.0
    return snapshot.progress.fraction if snapshot.progress else 0.0


def _latest_metrics(snapshot: JobSnapshot) -> None:
    """Training loss and accuracy so far this epoch; the validation ones after each whole
    epoch, with the change from the epoch before."""
    running = snapshot.progress.metrics if snapshot.progress else {}
    for cell, (name, label) in zip(st.columns(4), LIVE_METRICS.items(), strict=True):
        change = None
        if name.startswith("val_"):
            values = snapshot.history.get(name, ())
            value = values[-1] if values else None
            if len(values) > 1:
                change = _metric_text(name, values[-1] - values[-2], signed=True)
        else:
            value = running.get(name)
        shown = NOT_YET if value is None else _metric_text(name, value)
        cell.metric(label, shown, change, delta_color="inverse" if "loss" in name else "normal")


def _metric_text(name: str, value: float, signed: bool = False) -> str:
    """An accuracy in percent, a loss as it is; a change of accuracy in percentage points."""
    if not name.endswith("accuracy"):
        return f"{value:+.4f}" if signed else f"{value:.4f}"
    return f"{100 * value:+.2f} points" if signed else f"{value:.2%}"


def _describe_job(snapshot: JobSnapshot) -> str:
    settings = describe_config(snapshot.config)
    if snapshot.fine_tune is None:
        return settings
    return f"Fine-tuning {snapshot.fine_tune} on MNIST and your labelled drawings · {settings}"


def _learning_curves(snapshot: JobSnapshot) -> None:
    """Drawn once per finished epoch, not on every poll: matplotlib is slow."""
    from mnist_core.plots import learning_curves

    history = dict(snapshot.history)
    show_figure(
        ("live curves", snapshot.id, snapshot.epochs_done), lambda: learning_curves(history)
    )


def finished_training(snapshot: JobSnapshot) -> None:
    """How the last job ended: its error, or its saved model with its test results."""
    if snapshot.state == jobs.FAILED:
        st.subheader("Training failed")
        st.caption(_describe_job(snapshot))
        st.error(f"Training failed: {snapshot.error}")
        return
    saved = snapshot.saved
    st.subheader("Latest training run")
    outcome = f"Saved as **{saved.name}**"
    if snapshot.state == jobs.STOPPED:
        outcome = (
            f"Stopped at epoch {saved.record.epochs_run} of {snapshot.config.epochs}: "
            f"what it had learned was scored and saved as **{saved.name}**"
        )
    current = active_model(list_models())
    is_active = current is not None and current.name == saved.name
    if is_active:
        outcome += ", now the active model"
    message_column, download_column = st.columns([4, 1], vertical_alignment="center")
    (message_column.warning if snapshot.state == jobs.STOPPED else message_column.success)(
        outcome + "."
    )
    previous = st.session_state.get(PREVIOUS_MODEL)
    if is_active:
        message_column.page_link(DRAW_PAGE, label="Now draw a digit", icon="✏️")
    if is_active and previous and previous in {m.name for m in list_models()}:
        message_column.button(
            f"Go back to {previous}",
            on_click=set_active_model,
            args=(previous,),
            help="Make the model you had before the active one again.",
        )
    if saved.path.is_file():
        download_column.download_button(
            "Download .h5",
            data=saved.path.read_bytes,
            file_name=saved.path.name,
            mime="application/x-hdf5",
            on_click="ignore",
            width="stretch",
        )
    else:
        download_column.caption("Deleted since.")
    model_summary(saved)
    model_results(saved)


def duration(seconds: float) -> str:
    """A time span as people say it: "45 s", "2 min 05 s", "1 h 10 min"."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


train_page()
