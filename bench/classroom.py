"""A classroom at once, without a browser per person: light sessions that speak Streamlit's own
websocket protocol.

First a real browser (Chromium, through Playwright) opens the Draw page, draws one digit and
presses Clear, and every message it sends is recorded. Then many simulated people replay that
recording at once, each over a websocket and in a session of its own: they open the Draw page as
the browser did, then every `--period` seconds (from a random start) send a drawing of their own
the way the canvas sends one (its strokes in the canvas widget's value, in the recorded
message), time it until the Prediction arrives, and press Clear as the browser did (its click,
then the canvas reporting itself blank: two more reruns a drawing, as for a person). Every answer
is checked against what the model says of that drawing here, through the app's preprocessing,
and the browser's own answer to the recorded stroke must come back the same. Drawings are the
test writers' strokes (scripts/writers.py).

For each number of server processes (1: `streamlit run`; more: scripts/serve.py's nginx in
front) and of people, it reports the stroke-to-answer times, wrong or missing answers, the
servers' CPU per rerun (from /proc; strokes, Clears and keeps alike), their memory per session
and after the sessions close, and the generator's own CPU. "Held" is the most people answered
with p95 <= 0.5 s and no wrong or missing answer. Then, on fresh servers, a long run of 100
people keeping drawings, after a first class has come and gone: is memory back where it was once
they leave?

    python bench/classroom.py [--processes 1 2] [--people 60 120 ...] [--seconds 30] [--soak 300]

Prints a markdown table and writes it to bench/results/classroom.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from harness.report import Report, markdown_table

from app_pages.garbage import COLLECT_EVERY_SECONDS
from mnist_core.classify import Classifier
from mnist_core.data import prepare_mnist
from mnist_core.feedback import FeedbackStore
from mnist_core.store import ModelFileError, find_model
from tests.e2e.browser import ProxiedServers, StreamlitServer, train_reader
from tests.e2e.light_sessions import (
    ANSWER_TIMEOUT_S,
    Person,
    Recording,
    drawings_read_right,
    record,
    replays_right,
    writers_drawings,
)

TARGET_P95_S = 0.5
APP, MINIMAL_APP = "streamlit_app.py", "bench/minimal_app.py"
SESSION_TTL_S = 6  # a closed session's memory is freed this long after it closed
# After the sessions close, before memory is read: their TTL, then the collector thread's
# round that frees them and the one after (which collects what they left and trims), and a
# margin.
SETTLE_S = SESSION_TTL_S + 2 * COLLECT_EVERY_SECONDS + 9
DRAWINGS = 600  # test-writer drawings the people draw from
# People per step, until one is not held: about a tenth apart where processes reach their limit.
LADDER = [60, 120, 180, 240, 300, 330, 360, 400, 450, 500, 550, 600, 650, 700, 800]
SOAK_PEOPLE = 100
# Before the long run, a first class of as many people, keeping drawings too: what the first
# class leaves behind once (allocator pools, first uses) is told apart from what every class
# would add.
FIRST_CLASS_S = 60
LABEL_EVERY = 4  # in the long run, a person keeps every 4th drawing read right


class Servers:
    """The app served by `processes` Streamlit processes: alone (`streamlit run`), or behind
    nginx (scripts/serve.py)."""

    def __init__(
        self, processes: int, env: dict[str, str], folder: Path, name: str, script: str = APP
    ) -> None:
        self.processes, self.env, self.name = processes, env, name
        if processes == 1:
            self._app = StreamlitServer(env, folder / "streamlit.log", script)
        else:
            self._app = ProxiedServers(processes, env, folder)
        self.http = self._app.url
        self.ws = self.http.replace("http://", "ws://") + "/_stcore/stream"

    def pids(self) -> list[int]:
        if isinstance(self._app, StreamlitServer):
            return [self._app.process.pid]
        return self._app.pids()

    def __enter__(self) -> Servers:
        self._app.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._app.stop()


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU of the live processes among `pids`."""
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def rss_mib(pids: list[int]) -> float:
    """Resident memory of the live processes among `pids`."""
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def surviving(pids: list[int], killing: bool) -> list[int]:
    """The processes whose memory is watched: all, or those `run_step` leaves alive when it
    kills one (the last)."""
    return pids[:-1] if killing else pids


@dataclass
class Step:
    """People drawing at once for a while: what they saw, and what it cost the servers."""

    servers: str  # which servers: "1 process", "2 processes", with their settings
    people: int
    seconds: list[float]  # drawing sent -> Prediction received, per answer
    wrong: int
    missing: int
    dropped: int  # people whose connection was lost
    labelled: int  # drawings the people kept with "Right!"
    stored: int  # of theirs, in the feedback database afterwards
    server_cpu_ms_per_rerun: float
    memory_mib: list[float]  # the servers' memory: before, then each minute, then after close
    generator_cpu_share: float

    @property
    def p95(self) -> float:
        return float(np.percentile(self.seconds, 95)) if self.seconds else float("inf")

    @property
    def held(self) -> bool:
        return self.p95 <= TARGET_P95_S and not (self.wrong or self.missing or self.dropped)


def run_step(
    servers: Servers,
    recording: Recording,
    drawings: list[tuple],
    people: int,
    seconds: float,
    period: float,
    *,
    label_every: int | None = None,
    kill_after: float | None = None,
) -> Step:
    """`people` open the Draw page, then draw for `seconds`, pressing Clear after each drawing
    as `recording` did; measured while they draw. With `kill_after`, one server process is killed
    that many seconds in; memory is then that of the processes that live on."""
    pids = servers.pids()
    watched = surviving(pids, killing=kill_after is not None)
    memory = [rss_mib(watched)]
    tag = secrets.token_hex(3)
    crowd = [
        Person(
            servers.ws,
            f"student-{tag}-{n}",
            recording,
            random.sample(drawings, int(seconds / period) + 2),
        )
        for n in range(people)
    ]
    measured: dict[str, float] = {}

    async def meet() -> None:
        opened, go = asyncio.Barrier(people + 1), asyncio.Event()
        attending = [
            asyncio.create_task(person.attend(opened, go, period, label_every)) for person in crowd
        ]
        await opened.wait()
        cpu, generator, started = cpu_seconds(pids), time.process_time(), time.monotonic()
        for person in crowd:
            person.until = started + seconds
        go.set()
        next_sample, killed = started + 60, kill_after is None
        while not all(task.done() for task in attending):
            await asyncio.sleep(0.5)
            if not killed and time.monotonic() >= started + kill_after:
                os.kill(pids[-1], signal.SIGKILL)
                killed = True
            if time.monotonic() >= next_sample:
                memory.append(rss_mib(watched))
                next_sample += 60
        await asyncio.gather(*attending)
        reruns = sum(person.reruns for person in crowd)
        measured["cpu"] = 1000 * (cpu_seconds(pids) - cpu) / max(reruns, 1)
        measured["generator"] = (time.process_time() - generator) / (time.monotonic() - started)

    asyncio.run(meet())
    time.sleep(SETTLE_S)  # the sessions have closed (and their TTL passed): memory back?
    memory.append(rss_mib(watched))
    store = FeedbackStore.open(servers.env["MNIST_FEEDBACK_DB"])
    return Step(
        servers=servers.name,
        people=people,
        seconds=[s for person in crowd for s in person.seconds],
        wrong=sum(person.wrong for person in crowd),
        missing=sum(person.missing for person in crowd),
        dropped=sum(person.dropped for person in crowd),
        labelled=sum(person.labelled for person in crowd),
        stored=sum(store.count(person.name) for person in crowd if person.labelled),
        server_cpu_ms_per_rerun=measured["cpu"],
        memory_mib=memory,
        generator_cpu_share=measured["generator"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--people", type=int, nargs="+", default=LADDER)
    parser.add_argument("--seconds", type=float, default=30, help="of drawing, per step")
    parser.add_argument("--period", type=float, default=5, help="seconds between a person's digits")
    parser.add_argument("--soak", type=float, default=300, help="seconds of the 100-people run")
    args = parser.parse_args(argv)
    report = Report(
        "classroom",
        "A classroom at once: simulated people on Streamlit's websocket",
        f"Each person: a session of their own, one test-writer drawing every {args.period:g} s, "
        "its answer checked, then Clear pressed (its click and the canvas reporting itself "
        "blank: three reruns a drawing). Times run from the drawing sent to the Prediction "
        "received (a browser's canvas sends a drawing about 0.2 s after mouse-up); CPU and "
        "memory are the servers' while the people draw, after they opened the page; CPU per "
        "rerun, whichever asked for it.",
    )
    folder = Path(tempfile.mkdtemp(prefix="classroom-"))
    classifier, env = reader_and_env(folder)
    baseline = {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true"}
    ladder: list[Step] = []
    soaks: list[tuple[float, Step]] = []  # memory before anyone came, and the long run
    replayed: list[bool] = []

    def serve(processes: int, extra: dict[str, str], name: str, script: str = APP):
        run = folder / f"run-{len(ladder) + len(soaks)}-{processes}"
        run.mkdir()
        return Servers(processes, {**env, **extra}, run, name, script)

    # Beside ours in the same run: Streamlit's default (a full collection after every run),
    # and the floor, a page with only the canvas, the model and the Prediction.
    for extra, name, script in (
        (baseline, "1 process, Streamlit's default GC", APP),
        ({}, "1 process, canvas + model + metric only", MINIMAL_APP),
    ):
        with serve(1, extra, name, script) as servers:
            recording, drawings = opened(servers, classifier, args.period)
            replayed.append(replays_right(servers.ws, recording))
            ladder.append(run_step(servers, recording, drawings, 60, args.seconds, args.period))
    for processes in args.processes:
        name = f"{processes} process{'es' if processes > 1 else ''}"
        with serve(processes, {}, name) as servers:
            recording, drawings = opened(servers, classifier, args.period)
            replayed.append(replays_right(servers.ws, recording))
            for people in args.people:
                step = run_step(servers, recording, drawings, people, args.seconds, args.period)
                ladder.append(step)
                say(step)
                if not step.held:
                    break
        if args.soak:  # on fresh servers, so that memory starts from a baseline of its own
            with serve(processes, {}, name) as servers:
                recording, drawings = opened(servers, classifier, args.period)
                killing = processes > 1
                cold = rss_mib(surviving(servers.pids(), killing))
                run_step(
                    servers,
                    recording,
                    drawings,
                    SOAK_PEOPLE,
                    FIRST_CLASS_S,
                    args.period,
                    label_every=LABEL_EVERY,
                )
                soak = run_step(
                    servers,
                    recording,
                    drawings,
                    SOAK_PEOPLE,
                    args.soak,
                    args.period,
                    label_every=LABEL_EVERY,
                    kill_after=args.soak / 2 if killing else None,
                )
            soaks.append((cold, soak))
            say(soak)
    if any(step.wrong or step.missing for _, step in soaks):
        print(f"the servers' logs are kept in {folder}", file=sys.stderr)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    report.add(ladder_table(ladder), held_line(ladder, replayed), soak_table(soaks, args))
    report.publish()
    return 0 if all(replayed) else 1


def reader_and_env(folder: Path) -> tuple[Classifier, dict[str, str]]:
    """The model the servers read with, loaded, and their environment (`server_env`)."""
    env = server_env(folder)
    (reader,) = Path(env["MNIST_MODELS_DIR"]).glob("*.h5")
    return Classifier.load(reader), env


def server_env(folder: Path) -> dict[str, str]:
    """The servers' environment, with everything they write inside `folder`, and a models
    folder there holding the one model they read with: bench-best when it is saved, else a
    quick reader trained here."""
    models = folder / "models"
    models.mkdir()
    try:
        reader = find_model("bench-best")
        for path in (reader.path, reader.sidecar_path):
            shutil.copy(path, models / path.name)
    except ModelFileError:  # no saved bench model: a quick reader, trained here
        train_reader(prepare_mnist(), models)
    return {
        "MNIST_MODELS_DIR": str(models),
        "MNIST_FEEDBACK_DB": str(folder / "feedback.sqlite"),
        "MNIST_JOBS_DIR": str(folder / "jobs"),
        "MNIST_TRAINING_LOG": str(folder / "training.log"),
        "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(SESSION_TTL_S),  # Streamlit's: 120 s
    }


def opened(
    servers: Servers, classifier: Classifier, period: float
) -> tuple[Recording, list[tuple]]:
    """A browser's recording of the servers' Draw page, the drawings the people will send
    (those `classifier` reads right), and a warm-up: a few people on every process first, so
    that each has loaded the model and drawn its first charts."""
    recording = record(servers.http)
    drawings = drawings_read_right(writers_drawings(), classifier, recording.stroke, DRAWINGS)
    run_step(servers, recording, drawings, 4 * servers.processes, 2 * period, period)
    return recording, drawings


def say(step: Step) -> None:
    print(
        f"{step.servers}, {step.people} people: p95 {step.p95:.3f} s, {step.wrong} wrong, "
        f"{step.missing} missing, {step.dropped} dropped, "
        f"{step.server_cpu_ms_per_rerun:.1f} ms CPU per rerun",
        file=sys.stderr,
    )


def ladder_table(steps: list[Step]) -> str:
    headers = [
        "servers",
        "people",
        "answers",
        "median s",
        "p95 s",
        "wrong or missing",
        "server CPU ms per rerun",
        "MiB per person",
        "generator CPU",
        f"p95 <= {TARGET_P95_S:g} s",
    ]
    rows = [
        [
            step.servers,
            step.people,
            len(step.seconds),
            f"{np.median(step.seconds):.3f}" if step.seconds else "-",
            f"**{step.p95:.3f}**",
            step.wrong + step.missing + step.dropped,
            f"**{step.server_cpu_ms_per_rerun:.1f}**",
            f"{(max(step.memory_mib) - step.memory_mib[0]) / step.people:.2f}",
            f"{step.generator_cpu_share:.0%}",
            "yes" if step.held else "no",
        ]
        for step in steps
    ]
    return markdown_table(headers, rows)


def held_line(steps: list[Step], replayed: list[bool]) -> str:
    held: dict[str, int] = {}
    for step in steps:
        held.setdefault(step.servers, 0)
        if step.held:
            held[step.servers] = max(held[step.servers], step.people)
    counts = "; ".join(f"{servers}: {people}" for servers, people in held.items())
    return (
        f"Most people held (p95 <= {TARGET_P95_S:g} s, every answer right): {counts}. Each "
        "step adds people until one is not held. The browser's recorded stroke, replayed in a "
        f"new session, got the browser's answer: {'yes' if all(replayed) else 'NO'}."
    )


def soak_table(soaks: list[tuple[float, Step]], args) -> str:
    if not soaks:
        return ""
    headers = [
        "servers",
        "people",
        "answers",
        "p95 s",
        "wrong",
        "missing",
        "dropped",
        "labelled",
        "in the database",
        "server MiB: before anyone came, after the first class, each minute, "
        f"{SETTLE_S:g} s after close",
    ]
    rows = [
        [
            step.servers + (", one killed halfway" if "processes" in step.servers else ""),
            step.people,
            len(step.seconds),
            f"{step.p95:.3f}",
            step.wrong,
            step.missing,
            step.dropped,
            step.labelled,
            step.stored,
            ", ".join(f"{mib:.0f}" for mib in [cold, *step.memory_mib]),
        ]
        for cold, step in soaks
    ]
    return (
        f"**{SOAK_PEOPLE} people for {args.soak / 60:g} minutes**, each keeping every "
        f"{LABEL_EVERY}th drawing read right with Right! (under their own name, so into their own "
        "memory; each keep reruns the whole page). Wrong: not the digit drawn, which the "
        "model alone reads right (their memory can change an answer); missing: no answer "
        f"within {ANSWER_TIMEOUT_S:g} s. With several processes "
        "one is killed halfway and started again empty; dropped: the people whose connection "
        "it took; memory is that of the processes that lived on. Before them, on the same "
        f"servers, a first class of {SOAK_PEOPLE} did the same for {FIRST_CLASS_S:g} s and "
        "left.\n\n"
        + markdown_table(headers, rows)
        + "\n\n"
        + "  \n".join(
            f"{step.servers}: memory {SETTLE_S:g} s after close "
            f"{step.memory_mib[-1] - step.memory_mib[0]:+.0f} MiB from before they came, "
            f"{max(step.memory_mib) - step.memory_mib[0]:+.0f} MiB at most while they drew; "
            f"the first class had left {step.memory_mib[0] - cold:+.0f} MiB"
            + (" (the processes that lived on)" if "processes" in step.servers else "")
            + "."
            for cold, step in soaks
        )
    )


if __name__ == "__main__":
    sys.exit(main())
