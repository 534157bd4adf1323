"""The command line: `python -m mnist_core train | evaluate | finetune | predict`.

TensorFlow is imported only by the commands that need it, so `--help` answers at once.
Errors print one line and exit with status 2; `--json` ends the output with one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from mnist_core.config import ARCHITECTURES, BOUNDS, PRESETS, ConfigError, TrainConfig
from mnist_core.finetune import FINE_TUNE_EPOCHS, FINE_TUNE_LEARNING_RATE
from mnist_core.progress import BATCH, EPOCH, Progress

DEFAULT_CHARTS_DIR = Path(__file__).resolve().parent.parent / "artifacts" / "charts"


_NUMERIC_OPTIONS = (
    ("--epochs", "epochs", int),
    ("--batch-size", "batch_size", int),
    ("--hidden-units", "hidden_units", int),
    ("--dropout", "dropout", float),
    ("--learning-rate", "learning_rate", float),
    ("--validation-size", "validation_size", int),
    ("--seed", "seed", int),
    ("--ones-bias", "ones_bias", float),
)


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from mnist_core.data import DataError
    from mnist_core.export import ExportError
    from mnist_core.feedback import FeedbackError
    from mnist_core.preprocess import ImageError
    from mnist_core.store import ModelFileError

    expected = (
        ExportError,
        CliError,
        ConfigError,
        DataError,
        FeedbackError,
        ModelFileError,
        ImageError,
        OSError,
    )
    try:
        return args.command(args)
    except expected as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m mnist_core", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model, evaluate it on the test set, save it")
    train.set_defaults(command=_train)
    train.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="reference",
        help="starting settings: the reference MLP, or `best` (the CNN with a dense layer, "
        "trained with augmentation); the options below change them",
    )
    train.add_argument(
        "--arch",
        dest="architecture",
        choices=ARCHITECTURES,
        help="mlp (the reference), cnn (keras-io's MNIST convnet) or cnn-dense (that convnet "
        "with a dense hidden layer); --hidden-units and --dropout shape mlp's and cnn-dense's "
        "hidden layers",
    )
    for option, field, kind in _NUMERIC_OPTIONS:
        low, high = BOUNDS[field]
        train.add_argument(
            option,
            dest=field,
            type=kind,
            help=f"{low}..{high} (reference {getattr(defaults, field)})",
        )
    train.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="distort training images on the fly (shift, scale, rotate, shear, thickness, "
        "elastic) and flag some 1s and cross some 7s",
    )
    train.add_argument("--data", help="MNIST as a Keras .npz or a folder of IDX files")
    train.add_argument("--out", help="where to save the model (.h5); default: the models folder")
    train.add_argument("--json", action="store_true", help="end with one JSON line of results")

    evaluate = commands.add_parser("evaluate", help="score a saved model and draw its charts")
    evaluate.set_defaults(command=_evaluate)
    evaluate.add_argument("model", help="a saved model's name or a .h5 path")
    evaluate.add_argument("--data", help="MNIST as a Keras .npz or a folder of IDX files")
    evaluate.add_argument(
        "--charts", help=f"folder for the PNG charts (default {DEFAULT_CHARTS_DIR}/NAME)"
    )
    evaluate.add_argument("--json", action="store_true", help="end with one JSON line of results")

    finetune = commands.add_parser(
        "finetune", help="go on training a saved model on MNIST mixed with your drawings"
    )
    finetune.set_defaults(command=_finetune)
    finetune.add_argument("model", help="a saved model's name or a .h5 path with its .json")
    for option, field, kind, default in (
        ("--epochs", "epochs", int, FINE_TUNE_EPOCHS),
        ("--learning-rate", "learning_rate", float, FINE_TUNE_LEARNING_RATE),
    ):
        low, high = BOUNDS[field]
        help_text = f"{low}..{high} (default {default})"
        finetune.add_argument(option, dest=field, type=kind, default=default, help=help_text)
    finetune.add_argument("--data", help="MNIST as a Keras .npz or a folder of IDX files")
    finetune.add_argument("--json", action="store_true", help="end with one JSON line of results")

    export = commands.add_parser(
        "export", help="write a saved model as .keras, a TF Serving SavedModel, LiteRT or ONNX"
    )
    export.set_defaults(command=_export)
    export.add_argument("model", help="a saved model's name or a .h5 path with its .json")
    export.add_argument("--format", required=True, help="keras, savedmodel, tflite or onnx")
    export.add_argument(
        "--out", help="the file (for savedmodel, the folder of versions); default: exports/"
    )
    export.add_argument("--json", action="store_true", help="end with one JSON line of results")

    explain = commands.add_parser(
        "explain", help="say why a model reads what it does in image files, as PNGs"
    )
    explain.set_defaults(command=_explain)
    explain.add_argument("model", help="a saved model's name or a .h5 path")
    explain.add_argument("images", nargs="+", metavar="IMAGE")
    explain.add_argument(
        "--out", help=f"folder for the PNGs (default {DEFAULT_CHARTS_DIR}/NAME/explain)"
    )

    predict = commands.add_parser("predict", help="read the digit in image files")
    predict.set_defaults(command=_predict)
    predict.add_argument("model", help="a saved model's name or a .h5 path")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--json", action="store_true", help="end with one JSON line of results")
    return parser


def _train(args) -> int:
    fields = ["architecture", "augment", *(field for _, field, _ in _NUMERIC_OPTIONS)]
    given = {field: getattr(args, field) for field in fields if getattr(args, field) is not None}
    config = dataclasses.replace(PRESETS[args.preset], **given)
    name, directory = None, None
    if args.out:
        from mnist_core.store import check_name, is_taken

        out = Path(args.out)
        if out.suffix != ".h5":
            raise CliError(f"--out must name a .h5 file, not {args.out}")
        name, directory = out.stem, out.parent
        if is_taken(check_name(name), directory):
            raise CliError(f"{out} exists already: choose another name, or delete that model")
    from mnist_core.data import prepare_mnist  # after the checks: bad options fail at once
    from mnist_core.workflow import train_evaluate_save

    mnist = prepare_mnist(args.data, on_progress=_say)
    _say(f"data: {mnist.source}; training {config}")
    result, saved = train_evaluate_save(
        config, mnist, name=name, models_dir=directory, on_progress=_ProgressPrinter()
    )
    evaluation = saved.record.evaluation
    stopped = " (stopped early)" if result.stopped_early else ""
    print(f"test accuracy {evaluation.accuracy:.4f}  test loss {evaluation.loss:.4f}{stopped}")
    print(f"fit {result.fit_seconds:.1f} s; saved {saved.path}")
    if args.json:
        print(json.dumps({
            "test_accuracy": evaluation.accuracy,
            "test_loss": evaluation.loss,
            "fit_seconds": result.fit_seconds,
            "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early,
            "model_path": str(saved.path),
            "model_name": saved.name,
        }))  # fmt: skip
    return 0


def _finetune(args) -> int:
    from mnist_core.feedback import FeedbackStore
    from mnist_core.finetune import fine_tune_config

    base = _saved_model(args.model)
    config = fine_tune_config(base, args.epochs, args.learning_rate)  # bad options fail at once
    feedback = FeedbackStore.open()
    from mnist_core.data import prepare_mnist  # after the checks, as in `_train`
    from mnist_core.workflow import fine_tune_evaluate_save

    mnist = prepare_mnist(args.data, on_progress=_say)
    _say(f"fine-tuning {base.name} on MNIST and {feedback.count()} labelled drawings")
    result, saved = fine_tune_evaluate_save(
        base,
        feedback,
        mnist,
        config,
        models_dir=base.path.parent,
        on_progress=_ProgressPrinter(),
    )
    before, after = base.record.evaluation.accuracy, saved.record.evaluation.accuracy
    print(f"MNIST test accuracy {before:.4f} -> {after:.4f}; saved {saved.path}")
    if args.json:
        print(json.dumps({
            "base_test_accuracy": before,
            "test_accuracy": after,
            "fit_seconds": result.fit_seconds,
            "model_path": str(saved.path),
            "model_name": saved.name,
            **dataclasses.asdict(saved.record.fine_tuned),
        }))  # fmt: skip
    return 0


def _export(args) -> int:
    from mnist_core import export

    export.check_format(args.format)  # before loading anything
    saved = _saved_model(args.model)
    written = export.export_model(saved, args.format, args.out)
    print(f"{saved.name}: exported as {args.format} to {written}")
    if args.json:
        size = export.size_of(written)
        print(json.dumps({"format": args.format, "path": str(written), "bytes": size}))
    return 0


def _evaluate(args) -> int:
    from mnist_core import plots
    from mnist_core.classify import Classifier
    from mnist_core.data import prepare_mnist
    from mnist_core.evaluate import score_classifier
    from mnist_core.feedback import FeedbackStore, evaluate_by_person

    path = _model_path(args.model)
    record = _saved_model(args.model).record if path.with_suffix(".json").is_file() else None
    classifier = Classifier.load(path)
    x_test, y_test = prepare_mnist(args.data, on_progress=_say).test
    evaluation = score_classifier(classifier, x_test, y_test)
    print(
        f"{path.stem}: MNIST test accuracy {evaluation.accuracy:.4f}  "
        f"loss {evaluation.loss:.4f}  ({evaluation.count} images)"
    )
    print(f"{'digit':>5} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}")
    for digit, row in evaluation.report.items():
        scores = f"{row['precision']:9.4f} {row['recall']:7.4f} {row['f1']:7.4f}"
        print(f"{digit:>5} {scores} {row['support']:8d}")
    learnt_up_to = record.drawings_learnt_up_to if record else 0
    drawn = _other_sets(classifier, learnt_up_to)
    people = evaluate_by_person(classifier, FeedbackStore.open(), learnt_up_to)
    shown = {**drawn, **{f"your drawings ({person})": e for person, e in people.items()}}
    for label, other in shown.items():
        per_digit = " ".join(f"{d}:{a:.0%}" for d, a in enumerate(other.per_class_accuracy))
        print(f"{label}: accuracy {other.accuracy:.4f} ({other.count} images)  {per_digit}")

    charts = Path(args.charts) if args.charts else DEFAULT_CHARTS_DIR / path.stem
    charts.mkdir(parents=True, exist_ok=True)
    mistakes = evaluation.mistakes[:40]
    figures = {
        "confusion_matrix.png": plots.confusion_heatmap(evaluation.confusion),
        "mistakes.png": plots.digit_gallery(
            [m.image for m in mistakes],
            [f"{m.label}→{m.predicted} {m.confidence:.0%}" for m in mistakes],
        ),
    }
    if record is not None:
        figures["learning_curves.png"] = plots.learning_curves(record.history)
    for file_name, figure in figures.items():
        figure.savefig(charts / file_name, dpi=110)
    print(f"charts: {', '.join(str(charts / f) for f in figures)}")
    if args.json:
        print(json.dumps({
            "model_path": str(path),
            "test_accuracy": evaluation.accuracy,
            "test_loss": evaluation.loss,
            "per_class": evaluation.report,
            **{f"{key}_accuracy": other.accuracy for key, other in drawn.items()},
            "people_accuracy": {person: e.accuracy for person, e in people.items()},
            "charts": [str(charts / f) for f in figures],
        }))  # fmt: skip
    return 0


def _other_sets(classifier, drawings_learnt_up_to: int = 0) -> dict:
    """Scores on the drawn-digit set and on the user's labelled drawings (those it was not
    fine-tuned on), where they exist."""
    from mnist_core.drawn import DrawnSetError, evaluate_drawn, load_drawn_set
    from mnist_core.feedback import FeedbackStore, evaluate_feedback

    scores = {}
    try:
        scores["drawn_digits"] = evaluate_drawn(classifier, load_drawn_set(pictures=False))
    except DrawnSetError as error:
        _say(f"no drawn-digit score: {error}")
    yours = evaluate_feedback(classifier, FeedbackStore.open(), drawings_learnt_up_to)
    if yours is not None:
        scores["your_drawings"] = yours
    return scores


def _explain(args) -> int:
    from mnist_core import plots
    from mnist_core.classify import Classifier
    from mnist_core.data import prepare_mnist
    from mnist_core.explain import evidence, runner_up, training_neighbours
    from mnist_core.preprocess import ImageError, load_image, to_mnist

    path = _model_path(args.model)
    classifier = Classifier.load(path)
    out = Path(args.out) if args.out else DEFAULT_CHARTS_DIR / path.stem / "explain"
    out.mkdir(parents=True, exist_ok=True)
    pool = training_neighbours(classifier, prepare_mnist(on_progress=_say))
    failures = 0
    for file_name in args.images:
        try:
            image = to_mnist(load_image(file_name))
        except (ImageError, OSError) as error:
            print(f"{file_name}: error: {error}", file=sys.stderr)
            failures += 1
            continue
        probabilities = classifier.probabilities(image)
        answer, second = int(probabilities.argmax()), runner_up(probabilities)
        maps = {digit: evidence(classifier, image, digit) for digit in (answer, second)}
        nearest = pool.nearest(classifier, image, 8)
        figure = plots.explanation(
            image, probabilities, maps, pool.images[nearest], pool.labels[nearest]
        )
        written = out / f"{Path(file_name).stem}.png"
        figure.savefig(written, dpi=110)
        print(f"{file_name}: {answer} ({probabilities[answer]:.1%}), not {second}: {written}")
    return 2 if failures else 0


def _predict(args) -> int:
    from mnist_core.classify import Classifier
    from mnist_core.preprocess import ImageError, load_image, to_mnist

    path = _model_path(args.model)
    classifier = Classifier.load(path)
    answers, failures = [], 0
    for file_name in args.images:
        try:
            probabilities = classifier.probabilities(to_mnist(load_image(file_name)))
        except (ImageError, OSError) as error:
            print(f"{file_name}: error: {error}", file=sys.stderr)
            failures += 1
            continue
        digit = int(probabilities.argmax())
        print(f"{file_name}: {digit} ({probabilities[digit]:.1%})")
        answers.append({"file": file_name, "digit": digit, "probabilities": probabilities.tolist()})
    if args.json:
        print(json.dumps({"model_path": str(path), "predictions": answers}))
    return 2 if failures else 0


def _is_a_path(name_or_path: str) -> bool:
    path = Path(name_or_path)
    return path.suffix == ".h5" or path.exists()


def _model_path(name_or_path: str) -> Path:
    """The `.h5` file a model argument (a saved name or a path) names."""
    if not _is_a_path(name_or_path):
        return _saved_model(name_or_path).path
    path = Path(name_or_path)
    if not path.is_file():
        raise CliError(f"no model file at {path}")
    return path


def _saved_model(name_or_path: str):
    """A model argument as a SavedModel, with its record (a bare `.h5` has none: an error)."""
    from mnist_core.store import find_model, read_saved_model

    if _is_a_path(name_or_path):
        return read_saved_model(_model_path(name_or_path))
    return find_model(name_or_path)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _ProgressPrinter:
    """Prints one line per epoch, and a live batch counter when stderr is a terminal."""

    def __init__(self):
        self.live = sys.stderr.isatty()

    def __call__(self, progress: Progress) -> None:
        if progress.kind == BATCH and self.live:
            batch = f"batch {progress.batch}/{progress.batches}"
            print(f"\repoch {progress.epoch}/{progress.epochs}  {batch}", end="", file=sys.stderr)
        elif progress.kind == EPOCH:
            metrics = "  ".join(f"{k} {v:.4f}" for k, v in progress.metrics.items())
            left = progress.seconds_left or 0
            timing = f"({progress.elapsed:.1f} s, ~{left:.0f} s left)"
            print(
                f"\repoch {progress.epoch}/{progress.epochs}  {metrics}  {timing}", file=sys.stderr
            )


if __name__ == "__main__":
    sys.exit(main())
