"""The README's two commands are the ones that work: CI runs the test command verbatim."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    ci_lines = [
        line
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    [command] = [line for line in ci_lines if "pytest" in line]
    assert command in readme
    assert "setup.sh --dev" in command
    assert ci_lines[ci_lines.index(command) + 1 :] == [
        "bash scripts/lint.sh"
    ]  # the static checks, after the tests


def test_the_readme_opens_the_studio_on_the_offline_default_engine():
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```bash\n")[1:]]
    assert blocks[0].startswith("bash scripts/setup.sh &&")
    assert "--engine" not in blocks[0]  # the default engine, which is the offline one
    from studio.engines import DEFAULT_ENGINE

    assert DEFAULT_ENGINE == "offline"
