"""The EXERCISE banner: every screen of a tabletop exercise says it is not production.

Why on every screen: in an exercise the team uses the real timeline, trace/stop/undo, replay and
board screens; a screenshot or a glance at any of them must not be mistaken for a live incident.
`LedgerScreen` mounts it when `app.exercise` is set (and the help overlay composes it), docked on
top, so no screen has to remember it. The title comes from the exercise file: shown literally.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from tui.literal import literal

__all__ = ["ExerciseBanner", "exercise_banner"]


class ExerciseBanner(Static):
    """One purple line: EXERCISE · title · namespace · not production."""

    DEFAULT_CSS = """
    ExerciseBanner { dock: top; height: 1; width: 100%; background: darkmagenta;
                     color: white; text-style: bold; }
    """

    def __init__(self, title: str, tenant: str) -> None:
        text = literal(f" EXERCISE · {title} · namespace {tenant} · not production ")
        super().__init__(text, id="exercise-banner", classes="exercise-banner")


def exercise_banner(app: Any) -> list[ExerciseBanner]:
    """The banner for `app`'s running exercise, or nothing outside an exercise."""
    exercise = getattr(app, "exercise", None)
    if exercise is None:
        return []
    return [ExerciseBanner(exercise.title, exercise.tenant)]
