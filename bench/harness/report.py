"""The markdown each bench prints and keeps in bench/results/<script>.md: what was run, when,
on which machine and how busy it was, then the tables."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; the first column is left-aligned, the others (numbers) right-aligned."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """CPU count and model, RAM, and the versions that matter, in one line."""
    cpu_model = _first_value("/proc/cpuinfo", "model name") or platform.processor() or "?"
    ram_kib = int((_first_value("/proc/meminfo", "MemTotal") or "0 kB").split()[0])
    versions = ", ".join(
        f"{package} {_version(package)}" for package in ("tensorflow", "keras", "numpy")
    )
    return (
        f"{os.cpu_count()} CPUs ({cpu_model}), {ram_kib / 2**20:.0f} GiB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}, {versions}"
    )


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


class Report:
    """Collects a bench's sections; `publish` prints them and writes bench/results/<name>.md."""

    def __init__(self, name: str, title: str, about: str):
        self.name, self.title, self.about = name, title, about
        self.started = datetime.now(UTC)
        self.load_at_start = load_average()
        self.sections: list[str] = []

    def add(self, *sections: str) -> None:
        self.sections.extend(sections)

    def publish(self) -> Path:
        command = " ".join(["python", f"bench/{self.name}.py", *sys.argv[1:]])
        minutes = (datetime.now(UTC) - self.started).total_seconds() / 60
        header = [
            f"# {self.title}",
            "",
            f"`{command}`, {self.started:%Y-%m-%d %H:%M} UTC, {minutes:.0f} min.  ",
            f"Machine: {machine()}.  ",
            f"Load average (1 / 5 / 15 min): {self.load_at_start} at the start, "
            f"{load_average()} at the end "
            f"(above {os.cpu_count()}: other work competed for the CPUs).",
            "",
            self.about,
        ]
        text = "\n".join(header) + "\n\n" + "\n\n".join(self.sections) + "\n"
        print(text)
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"{self.name}.md"
        path.write_text(text)
        return path


def _first_value(path: str, key: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
