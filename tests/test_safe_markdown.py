"""Issue 15 item 6, Markdown exports: a hostile writer's text (tests/safe_corpus.MD_CORPUS) in an
after-action report (exporters.aar), a bundle's README and known_gaps.md is shown, never obeyed
(no heading, link, raw HTML, table cell or terminal control formed from it). No database: the
writers are pure.
"""

from __future__ import annotations

from pathlib import Path

from exporters.aar import aar_markdown
from exporters.bundle_docs import known_gaps_md, readme
from ledger.markdown import markdown_code, markdown_text
from tests.safe_corpus import MD_CORPUS, assert_inert_markdown
from tui.exercise import Exercise

EXERCISE = Path(__file__).resolve().parent.parent / "tui" / "exercises" / "inbox-injection.yaml"
AAR_HEADINGS = [
    "## Exercise Overview",
    "## Participants and Facilitator",
    "## Analysis of Objectives",
    f"### Objective 1. {markdown_text(MD_CORPUS)}",
    "#### Strengths",
    "#### Areas for Improvement",
    "## Strengths and Areas for Improvement not tied to one objective",
    "## Measured Times",
    "## Injects",
    "## Discussion Questions",
    "## Appendix A: Improvement Plan",
    "## Appendix B: Participants",
]


def test_after_action_report_quotes_the_corpus_inertly() -> None:
    ex = Exercise.load(EXERCISE)
    ex.title = MD_CORPUS
    ex.objectives = [MD_CORPUS]
    ex.roles = [{"role": MD_CORPUS, "person": MD_CORPUS}]
    ex.injects[0].text = MD_CORPUS
    ex.questions = [MD_CORPUS]
    ex.scope = MD_CORPUS
    ex.start()
    ex.record.fold("exercise.started", ex.started_data(MD_CORPUS, MD_CORPUS), ex.now_iso())
    ex.due_injects(MD_CORPUS)
    ex.answer("trace", MD_CORPUS, MD_CORPUS)
    ex.rate(f"1 S {MD_CORPUS}", MD_CORPUS)
    ex.discuss(f"1 {MD_CORPUS}", MD_CORPUS)
    for kind in ("strength", "gap", "action"):
        ex.add_finding(f"{kind}: {MD_CORPUS} #1", MD_CORPUS)
    ex.add_finding(f"strength: {MD_CORPUS}", MD_CORPUS)
    report = aar_markdown(ex.record)
    title = report.splitlines()[0]
    assert_inert_markdown(report, [title, *AAR_HEADINGS])
    assert title.startswith(
        "# After-Action Report / Improvement Plan: \\[ok\\](javascript:alert(1))&lt;script>"
    )
    assert "\\\\x0a# OK: all clear\\\\x0a" in report  # the line break shown, not obeyed
    assert "a \\| b \\| c" in report


def test_bundle_readme_and_known_gaps_quote_the_corpus_inertly() -> None:
    params = {"origin": MD_CORPUS, "tenant": MD_CORPUS, "since": "s", "until": "u"}
    doc = readme(params, "exp-1", "2026-11-24T00:00:00Z", 3, 0, 3, [], [])
    assert_inert_markdown(doc, [doc.splitlines()[0], *_headings(doc)[1:]])
    assert len(_headings(doc)) == len(
        _headings(readme({**params, "origin": "o", "tenant": "t"}, "exp-1", "now", 3, 0, 3, [], []))
    )
    gaps = known_gaps_md(
        [
            {"kind": MD_CORPUS, "seq": 4, "occurred_at": MD_CORPUS, "details": MD_CORPUS},
            {"kind": "redaction", "details": {"reason": MD_CORPUS}},
        ]
    )
    assert_inert_markdown(gaps, ["# Known gaps and exceptions"])
    assert len([line for line in gaps.splitlines() if line.startswith("- ")]) == 2


def test_markdown_helpers() -> None:
    assert markdown_text("a|b\n# h <b>&x") == "a\\|b\\\\x0a# h &lt;b>&amp;x"
    assert markdown_code("x`y") == "``x`y``" and markdown_code("`") == "`` ` ``"
    assert markdown_code("p|q") == "`p\\|q`"


def _headings(doc: str) -> list[str]:
    return [line for line in doc.splitlines() if line.startswith("#")]
