"""The README and its pages stay true: the constants table, the quick start, the public API, the commands,
the contents list and every relative link follow the code and the files."""
import re
import shlex
import unicodedata
from pathlib import Path

import pytest

import evaluate.__main__ as evaluate_cli
import main_ASLP
import predict
from common.configurator import HELP_FLAGS, parse_overrides
from tests.conftest import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
PAGES = [README, PROJECT_ROOT / "CHANGELOG.md", PROJECT_ROOT / "Dataset" / "README.md",
         *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 400
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
# A command of the project, up to a code span's end, a comment or a table cell's end.
COMMAND = re.compile(r"python (main_ASLP\.py|predict\.py|-m evaluate|PATH/TO/aslp/evaluate)((?: [^`#\n|]*)?)")


def text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def section(page: Path, title: str) -> str:
    """The `## title` section of a page, up to the next `## ` heading."""
    body = text(page)
    start = body.index(f"## {title}")
    end = body.find("\n## ", start + 1)
    return body[start:end if end > 0 else None]


def prose(body: str) -> str:
    """The page without its fenced code blocks, where a '#' starts a comment, not a heading."""
    return re.sub(r"^```.*?^```", "", body, flags=re.S | re.M)


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (hyphens and underscores kept),
    spaces turned into hyphens."""
    kept = "".join(c for c in heading.strip().lower()
                   if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a markdown page, with GitHub's -1, -2 ... for repeated headings."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", prose(text(page)), re.M):
        slug = anchor(heading)
        seen[slug] = seen.get(slug, -1) + 1
    return {slug if count == 0 else f"{slug}-{count}" for slug, counts in seen.items()
            for count in range(counts + 1)}


def test_every_constant_is_in_the_constants_table_and_no_stale_one():
    table = text(PROJECT_ROOT / "docs" / "constants.md")
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    listed = {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}
    assert listed == set(main_ASLP.CONSTANTS), listed ^ set(main_ASLP.CONSTANTS)


def test_quick_start_is_two_commands_and_ci_runs_the_second():
    commands = re.findall(r"```\n(.*?)\n```", section(README, "Quick start"), re.S)[0].splitlines()
    assert commands == ["pip install -r requirements.txt && python main_ASLP.py --demo", "python -m pytest -q"]
    assert (PROJECT_ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == commands[1]


def test_every_name_the_public_api_page_imports_exists():
    block = re.findall(r"```python\n(.*?)\n```", text(PROJECT_ROOT / "docs" / "api.md"), re.S)[0]
    imports = "\n".join(line.split("#")[0] for line in block.splitlines() if line.startswith(("from ", "import ")))
    exec(compile(imports, "docs/api.md", "exec"), {})  # an ImportError names what the page promises but lacks


def commands() -> list[tuple[str, str, str]]:
    """(page, program, options) of every command the pages give, continuation lines (`#     --more`) joined."""
    found = [(str(page.relative_to(PROJECT_ROOT)), program, options.strip()) for page in PAGES
             for program, options in COMMAND.findall(re.sub(r"\n# +--", " --", text(page)))]
    assert {program for _, program, _ in found} == {"main_ASLP.py", "predict.py", "-m evaluate",
                                                    "PATH/TO/aslp/evaluate"}, "the pattern misses commands"
    return found


def long_options(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings if option.startswith("--")}


@pytest.mark.parametrize("page, program, options", commands(), ids=lambda value: value[:40])
def test_every_command_in_the_pages_takes_the_options_it_is_given(page, program, options):
    given = [word for word in shlex.split(options.replace("[", " ").replace("]", " "))
             if word.startswith("--") and word not in HELP_FLAGS]
    if program == "main_ASLP.py":
        parse_overrides(main_ASLP.CONSTANTS, given)  # a ConfigError names an option or value it no longer takes
        return
    parser = predict.command_line() if program == "predict.py" else evaluate_cli._parser()
    unknown = {word.partition("=")[0] for word in given} - long_options(parser)
    assert not unknown, f"{page}: python {program} has no option {sorted(unknown)}"


def test_the_command_finder_sees_options_and_a_stale_option_is_refused():
    assert COMMAND.findall("run `python main_ASLP.py --epochs=2 --demo` now") == [("main_ASLP.py", " --epochs=2 --demo")]
    with pytest.raises(ValueError, match="no_such_option"):
        parse_overrides(main_ASLP.CONSTANTS, ["--no_such_option=1"])


def test_the_readme_is_short_and_opens_with_a_contents_list_of_its_headings():
    lines = text(README).splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines: move reference material to docs/"
    headings = [line[3:] for line in prose(text(README)).splitlines() if line.startswith("## ")]
    assert headings[0] == "Contents"
    contents = section(README, "Contents")
    listed = re.findall(r"^- \[[^\]]+\]\(#([^)]+)\)$", contents, re.M)
    assert listed == [anchor(heading) for heading in headings[1:]], "the contents list and the headings differ"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(PROJECT_ROOT)))
def test_every_relative_link_resolves_to_a_file_and_a_heading(page):
    broken = []
    for target in LINK.findall(prose(text(page))):
        if re.match(r"[a-z]+:", target):  # https:, mailto: ... are not checked: no network in tests
            continue
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and (linked.suffix != ".md" or fragment not in anchors(linked)):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.relative_to(PROJECT_ROOT)}: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(PROJECT_ROOT)))
def test_every_test_file_a_page_names_exists(page):
    named = set(re.findall(r"`(tests/[\w/]+\.py)`", text(page)))
    assert {name for name in named if not (PROJECT_ROOT / name).is_file()} == set()


def test_anchors_follow_githubs_rule():
    assert anchor("Scoring (`python -m evaluate`, and the eval stage)") == "scoring-python--m-evaluate-and-the-eval-stage"
    assert anchor("aslp — Adaptive Stochastic Label Perturbation") == "aslp--adaptive-stochastic-label-perturbation"
    assert anchor("Against the authors' training loop") == "against-the-authors-training-loop"
