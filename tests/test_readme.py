"""The README stays true: its constants table and quick start follow main_ASLP.py and .ci/run."""
import re

import main_ASLP
from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def test_every_constant_is_in_the_constants_table_and_no_stale_one():
    first_cells = [line.split("|")[1] for line in section("Constants").splitlines() if line.startswith("| `")]
    listed = {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}
    assert listed == set(main_ASLP.CONSTANTS), listed ^ set(main_ASLP.CONSTANTS)


def test_quick_start_is_two_commands_and_ci_runs_the_second():
    commands = re.findall(r"```\n(.*?)\n```", section("Quick start"), re.S)[0].splitlines()
    assert commands == ["pip install -r requirements.txt && python main_ASLP.py --demo", "python -m pytest -q"]
    assert (PROJECT_ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == commands[1]


def test_every_name_the_public_api_section_imports_exists():
    block = re.findall(r"```python\n(.*?)\n```", section("Public API"), re.S)[0]
    imports = "\n".join(line.split("#")[0] for line in block.splitlines() if line.startswith(("from ", "import ")))
    exec(compile(imports, "README.md", "exec"), {})  # an ImportError names what the README promises but lacks
