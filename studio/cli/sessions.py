"""`studio run|resume|sessions|show|rename|delete|parse|engines`: run, inspect and manage sessions
headless, registered on the root app by `register(app)`.

Light commands (sessions, show, rename, delete) import no torch or gradio: engines
are imported only when a command runs one.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from .. import engines as registry
from ..core import limits, protocol
from ..core.codec import trajectory_to_dict
from ..core.domain import (
    Mode,
    RunSettings,
    Stage,
    Step,
    StudioError,
    Trajectory,
)
from ..runner import Event, PausePolicy, Runner
from .common import (
    DataOption,
    DbOption,
    JsonOption,
    err,
    open_store,
    out,
    print_json,
    progress_bar,
    safe,
)

app = typer.Typer()  # the commands below are added to the root app by register()


def _runner(db: str | None, data_dir: Path | None) -> Runner:
    return Runner(open_store(db, data_dir))


def step_line(step: Step) -> str:
    """One readable line per stage, for terminals."""
    # The annotator is the person behind the step's latest human action: the reviewer once it is reviewed.
    editor = step.annotator if step.annotator and not step.review else "a person"
    who = f" (edited by {editor})" if step.author.value == "human" else ""
    if step.stage is Stage.PLAN:
        body = " ".join(
            protocol.shown_tag(name, text)
            for name, text in (("ins", step.instruction), ("des", step.description))
        )
    elif step.stage is Stage.INSPECT:
        body = (
            " | ".join(
                f"{name} {'pass' if check.passed else 'FAIL'}: {check.critique}"
                for name, check in (("plan", step.plan_check), ("sketch", step.sketch_check))
                if check
            )
            or f"no verdict: {step.meta.get('error', 'none given')}"
        )
    elif step.stage is Stage.REFINE:
        image = step.image.sha256[:10] if step.image else "-"
        body = f"{protocol.shown_tag('refine', step.instruction)} image {image}"
    else:
        body = (
            f"image {step.image.sha256[:10]} {step.image.width}×{step.image.height}"
            if step.image
            else "no image"
        )
    if step.review:
        body += f" [{step.review.value}{f' by {step.annotator}' if step.annotator else ''}]"
    timing = f" ({step.elapsed_s:.2f} s)" if step.elapsed_s is not None else ""
    return f"[{step.round}] {step.stage.value:<7} {body}{who}{timing}"


def _drive(runner: Runner, trajectory: Trajectory, as_json: bool) -> None:
    """Run to the end, printing each stage as it is committed, with a progress bar on terminals."""
    lines = err if as_json else out
    bar = progress_bar(counted=False)
    task = bar.add_task("", total=1.0, visible=False)

    def listener(event: Event) -> None:
        if event.kind == "started":
            bar.update(task, description=event.stage.value, completed=0, visible=True)
        elif event.kind == "progress" and event.progress:
            bar.update(
                task,
                completed=event.progress.fraction,
                description=f"{event.stage.value} {event.progress.message}",
            )
        elif event.kind == "committed" and event.step:
            bar.update(task, visible=False)
            lines.print(safe(step_line(event.step)), highlight=False)

    with bar:
        outcome = runner.run(trajectory, PausePolicy.NEVER, listener)
    if as_json:
        print_json(json.dumps(trajectory_to_dict(trajectory)))
    else:
        out.print(f"session {trajectory.session.id} ({outcome.status})", highlight=False)


@app.command()
def run(
    prompt: Annotated[str, typer.Argument(help="What the image should show.")],
    engine: Annotated[
        str, typer.Option(help="Engine name (see `studio engines`).")
    ] = registry.DEFAULT_ENGINE,
    rounds: Annotated[
        int, typer.Option(help=f"Most plan + refine rounds (1 to {limits.MAX_ROUNDS}).")
    ] = RunSettings.max_rounds,
    seed: Annotated[Optional[int], typer.Option(help="Seed; random when left out.")] = None,
    mode: Annotated[
        Mode, typer.Option(help="process: the loop; single: one plan, one sketch.")
    ] = Mode.PROCESS,
    title: Annotated[
        Optional[str], typer.Option(help="Session title (default: the prompt).")
    ] = None,
    db: DbOption = None,
    data_dir: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a new session headless to the end; prints each stage, then the session id."""
    prompt, engine = limits.prompt(prompt), limits.engine_name(engine, registry)
    settings = RunSettings(max_rounds=limits.rounds(rounds), mode=mode)
    seed, title = limits.seed(seed), None if title is None else limits.title(title)
    runner = _runner(db, data_dir)
    trajectory = runner.new_session(prompt, engine, seed, settings, title)
    label = getattr(runner.engine(trajectory), "label", engine)
    (err if as_json else out).print(f"engine {engine}: {safe(label)}", highlight=False)
    try:
        _drive(runner, trajectory, as_json)
    except StudioError as error:
        raise StudioError(f"{error} {_what_is_left(runner, trajectory)}") from None


def _what_is_left(runner: Runner, trajectory: Trajectory) -> str:
    """What became of the session `run` made when a stage failed: removed if it held nothing yet (and
    said so), otherwise kept for `studio resume`."""
    session_id = trajectory.session.id
    try:
        if runner.discard_if_empty(trajectory):
            return f"(Session {session_id[:8]} held no step yet and was removed.)"
    except StudioError:  # the disk is full, say: the empty session stays
        pass
    return (
        f"(Session {session_id[:8]} keeps its {len(trajectory.steps)} step(s): carry on with "
        f"studio resume {session_id[:8]}.)"
    )


@app.command()
def resume(
    session_id: str, db: DbOption = None, data_dir: DataOption = None, as_json: JsonOption = False
) -> None:
    """Carry on a session from its last committed step."""
    session_id = limits.session_id(session_id)
    runner = _runner(db, data_dir)
    _drive(runner, runner.open(session_id), as_json)


@app.command()
def sessions(
    search: Annotated[
        Optional[str], typer.Option(help="Only sessions whose prompt or title contains this.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Most sessions to list.")] = 50,
    db: DbOption = None,
    data_dir: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """List sessions, newest first."""
    search, limit = limits.search(search), limits.limit(limit)
    store = open_store(db, data_dir)
    found = store.list_sessions(search=search, limit=limit)
    more = store.count_sessions(search) - len(found) if len(found) == limit else 0
    if as_json:
        print_json(
            json.dumps(
                [
                    {
                        "id": s.id,
                        "title": s.title,
                        "prompt": s.prompt,
                        "engine": s.engine,
                        "updated_at": s.updated_at,
                        "owner": s.owner,
                        "shared": s.shared,
                    }
                    for s in found
                ]
            )
        )
        return
    table = Table("id", "title", "engine", "owner", "updated")
    for s in found:
        when = datetime.datetime.fromtimestamp(s.updated_at).strftime("%Y-%m-%d %H:%M")
        owner = f"{s.owner or '-'}{' (shared)' if s.shared else ''}"
        table.add_row(s.id[:8], safe(s.title), safe(s.engine), safe(owner), when)
    if found:
        out.print(table)
    else:
        out.print(
            "no sessions match"
            if search
            else 'no sessions yet: start one with studio run "a red apple"'
        )
    if more > 0:
        err.print(f"{more} more; list them with --limit {limit + more}", highlight=False)


@app.command()
def show(
    session_id: str,
    text: Annotated[
        bool, typer.Option("--text", help="The head branch as the paper's tagged text.")
    ] = False,
    db: DbOption = None,
    data_dir: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a session's branch tree (the head branch is marked with *); a straight run of steps is
    one column, and only a fork indents."""
    if as_json and text:
        raise StudioError("Give --json or --text, not both.")
    session_id = limits.session_id(session_id)
    trajectory = open_store(db, data_dir).load(session_id)
    if as_json:
        print_json(json.dumps(trajectory_to_dict(trajectory)))
        return
    if text:
        from ..core.tagged import render

        tagged = render(trajectory.session.prompt, trajectory.branch())
        if sys.stdout.isatty():  # a terminal is shown the text; a pipe or file gets it as written
            tagged = "\n".join(safe(line, markup=False) for line in tagged.split("\n"))
        sys.stdout.write(tagged)
        return
    session = trajectory.session
    on_head = {s.id for s in trajectory.branch()} if session.head_id else set()
    root = Tree(safe(f"{session.id}  {session.title}  [{session.engine}, seed {session.seed}]"))
    pending = [(root, s) for s in trajectory.children(None)]
    while pending:
        node, step = pending.pop(0)
        mark = "* " if step.id in on_head else "  "
        node.add(safe(f"{mark}{step.id[:8]} {step_line(step)}"))
        children = trajectory.children(step.id)
        if len(children) == 1:  # the branch goes straight on: same column
            pending.insert(0, (node, children[0]))
        else:  # a fork: each branch one level in, under the step it forks from
            fork = node.children[-1]
            pending[:0] = [(fork, s) for s in children]
    # Piped into a file or another program, print whole lines rather than cutting them at 80 columns.
    (out if out.is_terminal else Console(soft_wrap=True, width=100_000)).print(
        root, highlight=False
    )


@app.command()
def rename(session_id: str, title: str, db: DbOption = None, data_dir: DataOption = None) -> None:
    """Give a session a new title."""
    session_id, title = limits.session_id(session_id), limits.title(title)
    runner = _runner(db, data_dir)
    trajectory = runner.open(session_id)
    runner.rename(trajectory, title)
    out.print(f"renamed {trajectory.session.id[:8]} to '{safe(title)}'", highlight=False)


@app.command()
def delete(
    session_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Don't ask.")] = False,
    db: DbOption = None,
    data_dir: DataOption = None,
) -> None:
    """Delete a session and the images only it used."""
    session_id = limits.session_id(session_id)
    store = open_store(db, data_dir)
    full_id = store.resolve_id(session_id)
    if not yes and not typer.confirm(f"Delete session {full_id}?"):
        raise typer.Exit(1)
    store.delete_session(full_id)
    out.print(f"deleted {full_id}")


@app.command()
def parse(
    prompt: Annotated[Optional[str], typer.Argument(help="A prompt to parse.")] = None,
    file: Annotated[
        Optional[Path],
        typer.Option("--file", help="One prompt per line; one JSON object per output line."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Parse prompts into scene graphs, in GenEval's metadata form (`include`)."""
    from ..language import parse_prompt

    if (prompt is None) == (file is None):
        raise StudioError(
            'Give a prompt or --file PROMPTS.txt (not both), e.g. studio parse "two red apples" --json'
        )
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise StudioError(f"Cannot read {file}: {error.strerror or error}.") from None
        except UnicodeDecodeError as error:
            raise StudioError(
                f"{file} is not UTF-8 text (byte {error.start}); save it as UTF-8."
            ) from None
        prompts = [limits.prompt(line) for line in lines if line.strip()]
    else:
        prompts = [limits.prompt(prompt)]
    for text in prompts:
        scene = parse_prompt(text)
        row = {"prompt": text, **scene.to_geneval()}
        if scene.free_text:
            row["free_text"] = scene.free_text
        if as_json:
            sys.stdout.write(json.dumps(row) + "\n")
        else:
            out.print(
                "\n".join(
                    safe(line)
                    for line in (
                        text,
                        f"  → {scene.describe()}",
                        f"  → {json.dumps(row['include'])}",
                    )
                ),
                highlight=False,
            )


@app.command("engines")
def list_engines() -> None:
    """List the engines, which of them this installation can run, and what the others need."""
    for name in registry.names():
        default = " (default)" if name == registry.DEFAULT_ENGINE else ""
        missing = registry.availability(name)
        if missing is not None:
            out.print(f"{name}{default}: cannot run here: {safe(missing)}", highlight=False)
            continue
        engine = registry.load(name)
        if engine.capabilities.needs_gpu and not _gpu_here():
            status = 'installed, but no GPU driver found here (it needs a GPU; see the README\'s "GPU engines")'
        else:
            status = "ready"
        out.print(
            f"{name}{default}: {status} - {safe(getattr(engine, 'label', ''))}", highlight=False
        )


def _gpu_here() -> bool:
    """A GPU driver on this machine (NVIDIA, AMD ROCm, WSL's, or Apple silicon), judged from the system
    alone: listing engines must not import torch (≈3 s), so this can not ask torch itself."""
    import platform

    if sys.platform == "darwin" and platform.machine() == "arm64":
        return True
    return any(
        Path(p).exists()
        for p in ("/proc/driver/nvidia/version", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")
    )


def register(root: typer.Typer) -> None:
    root.registered_commands.extend(app.registered_commands)
