"""The studio page, declared in one place; what each button does lives in `actions`.

Every event has an `api_name`, so `gradio_client` can do all the page can:
/new_session, /step, /run, /stop, /edit_plan, /accept, /reject, /override, /refine,
/fork, /switch_branch, /open_session, /list_sessions, /rename, /delete, /compare, /export,
/import_png.
"""

from __future__ import annotations

import gradio as gr

from .. import engines as registry
from ..domain import MAX_PROMPT_CHARS, Mode, RunSettings
from ..runner import PausePolicy, Runner
from .actions import VIEW_SIZE, Actions

CSS = """
#timeline .message img { max-width: 384px; }
.engine-note { font-size: 0.85em; opacity: 0.8; }
"""

PAUSES = [("Every stage", PausePolicy.EVERY_STAGE.value), ("At inspect", PausePolicy.AT_INSPECT.value),
          ("Never (run to the end)", PausePolicy.NEVER.value)]


def engine_note(name: str) -> str:
    try:
        engine = registry.load(name)
    except Exception as error:  # noqa: BLE001 — shown to the person choosing the engine
        return f"⚠ {error}"
    flags = [f for f, on in (("region refine", engine.capabilities.region_edit),
                             ("needs a GPU", engine.capabilities.needs_gpu)) if on]
    return f"**{name}** — {engine.label}" + (f" ({', '.join(flags)})" if flags else "")


def build_ui(runner: Runner, default_engine: str = registry.DEFAULT_ENGINE) -> gr.Blocks:
    actions = Actions(runner)
    with gr.Blocks(title="Stroke Studio") as demo:
        gr.Markdown("## Stroke Studio — plan, sketch, inspect, refine; step in anywhere")
        with gr.Tab("Studio"):
            with gr.Row():
                with gr.Column(scale=1, min_width=280):
                    prompt = gr.Textbox(label="Prompt", lines=3, max_length=MAX_PROMPT_CHARS, elem_id="prompt",
                                        placeholder="two red apples under a blue cup")
                    with gr.Accordion("Settings", open=False, elem_id="settings"):
                        engine = gr.Dropdown(registry.names(), value=default_engine, label="Engine", elem_id="engine")
                        note = gr.Markdown(engine_note(default_engine), elem_classes="engine-note")
                        with gr.Row():
                            seed = gr.Number(value=0, precision=0, label="Seed", elem_id="seed")
                            random_seed = gr.Checkbox(value=True, label="Random seed", elem_id="random-seed")
                        rounds = gr.Slider(1, 16, value=RunSettings.max_rounds, step=1, label="Rounds (plans + refines)")
                        pause = gr.Radio(PAUSES, value=PausePolicy.EVERY_STAGE.value, label="Pause", elem_id="pause")
                        mode = gr.Radio([("Process (the loop)", Mode.PROCESS.value), ("Single pass", Mode.SINGLE.value)],
                                        value=Mode.PROCESS.value, label="Mode")
                        params = gr.Code("{}", language="json", label="Engine parameters (JSON)")
                    new_button = gr.Button("New session", variant="primary", elem_id="new")
                    with gr.Row():
                        step_button = gr.Button("Step", elem_id="step")
                        run_button = gr.Button("Run to end", elem_id="run")
                        stop_button = gr.Button("Stop", variant="stop", elem_id="stop")
                    status = gr.Textbox(label="Status", lines=2, interactive=False, elem_id="status")
                    session_id = gr.Textbox(label="Session id", interactive=False, elem_id="session-id")
                    version = gr.Number(visible=False, precision=0)
                with gr.Column(scale=2):
                    timeline = gr.Chatbot(label="Timeline", height=720, elem_id="timeline", group_consecutive_messages=False)
                    preview = gr.Image(label="Live preview while drawing", interactive=False, height=200, elem_id="preview")
                with gr.Column(scale=1, min_width=300):
                    step_choice = gr.Dropdown(label="Timeline step (actions apply here)", elem_id="step-choice", allow_custom_value=True)
                    with gr.Accordion("Plan", open=True):
                        instruction = gr.Textbox(label="<ins> instruction", lines=2, elem_id="instruction")
                        description = gr.Textbox(label="<des> description", lines=2, elem_id="description")
                        edit_button = gr.Button("Save plan edit", elem_id="edit-plan")
                    with gr.Accordion("Sketch", open=True):
                        reject_note = gr.Textbox(label="Why reject? (kept as a label)", elem_id="reject-note")
                        with gr.Row():
                            accept_button = gr.Button("Accept", elem_id="accept")
                            reject_button = gr.Button("Reject & redraw", elem_id="reject")
                    with gr.Accordion("Verdict", open=True):
                        plan_pass = gr.Checkbox(label="plan matches the prompt", elem_id="plan-pass")
                        plan_critique = gr.Textbox(label="plan critique", lines=2, elem_id="plan-critique")
                        sketch_pass = gr.Checkbox(label="sketch matches the instruction", elem_id="sketch-pass")
                        sketch_critique = gr.Textbox(label="sketch critique", lines=2, elem_id="sketch-critique")
                        override_button = gr.Button("Override verdict", elem_id="override")
                    with gr.Accordion("Refine", open=False):
                        refine_text = gr.Textbox(label="<refine> your instruction", elem_id="refine-text",
                                                 placeholder="make the cup blue")
                        region = gr.ImageEditor(label="Paint the region to redraw (optional)", type="pil",
                                                sources=(), layers=False, transforms=(), height=300, elem_id="region")
                        refine_button = gr.Button("Refine", elem_id="refine")
                    with gr.Accordion("Branches", open=True):
                        fork_button = gr.Button("Rewind & fork at the chosen step", elem_id="fork")
                        branch_choice = gr.Dropdown(label="Branch", elem_id="branch-choice", allow_custom_value=True)
                        switch_button = gr.Button("Switch to branch", elem_id="switch")
        with gr.Tab("Compare branches"):
            with gr.Row():
                left_branch = gr.Dropdown(label="Left branch", elem_id="left-branch", allow_custom_value=True)
                right_branch = gr.Dropdown(label="Right branch", elem_id="right-branch", allow_custom_value=True)
            compare_button = gr.Button("Compare", elem_id="compare")
            with gr.Row():
                left_view = gr.Chatbot(label="Left", height=640)
                right_view = gr.Chatbot(label="Right", height=640)
        with gr.Tab("Sessions"):
            with gr.Row():
                search = gr.Textbox(label="Search prompts and titles", elem_id="search")
                refresh_button = gr.Button("Search", elem_id="refresh")
            session_table = gr.Dataframe(headers=["id", "title", "engine", "prompt"], interactive=False,
                                         elem_id="session-table")
            with gr.Row():
                chosen = gr.Textbox(label="Session id", elem_id="chosen-session")
                open_button = gr.Button("Open", variant="primary", elem_id="open")
                delete_button = gr.Button("Delete", variant="stop", elem_id="delete")
            with gr.Row():
                new_title = gr.Textbox(label="New title for the open session", elem_id="new-title")
                rename_button = gr.Button("Rename", elem_id="rename")
            sessions_note = gr.Markdown()
            with gr.Row():
                export_format = gr.Dropdown(["bagel", "think-trace", "vlm-sft", "hf", "folder"], value="folder",
                                            label="Export format", elem_id="export-format")
                export_scope = gr.Radio(["this session", "all sessions"], value="all sessions", label="Export",
                                        elem_id="export-scope")
                export_button = gr.Button("Export as zip", elem_id="export")
            export_file = gr.File(label="Download", interactive=False, elem_id="export-file")
            dropped = gr.File(label="Drop a final PNG saved by the studio to reopen its session", file_types=[".png"],
                              type="filepath", elem_id="drop-png")

        view = [session_id, version, timeline, status, instruction, description, plan_pass, plan_critique,
                sketch_pass, sketch_critique, step_choice, branch_choice, left_branch, right_branch, region, prompt, preview]
        assert len(view) == VIEW_SIZE
        here = [session_id, version]
        models = dict(concurrency_id="models", concurrency_limit="default")  # per engine: registry.slot

        engine.change(engine_note, engine, note, api_name=False)
        new_button.click(actions.new_session, [prompt, engine, seed, random_seed, rounds, mode, params], view,
                         api_name="new_session")
        step_button.click(actions.step, here, view, api_name="step", **models)
        run_button.click(actions.run, here + [pause], view, api_name="run", **models)
        stop_button.click(actions.stop, session_id, status, api_name="stop", queue=False)
        edit_button.click(actions.edit_plan, here + [step_choice, instruction, description], view, api_name="edit_plan")
        accept_button.click(actions.accept, here + [step_choice], view, api_name="accept")
        reject_button.click(actions.reject, here + [step_choice, reject_note], view, api_name="reject", **models)
        override_button.click(actions.override, here + [step_choice, plan_pass, plan_critique, sketch_pass,
                                                        sketch_critique], view, api_name="override")
        refine_button.click(actions.refine, here + [step_choice, refine_text, region], view, api_name="refine", **models)
        fork_button.click(actions.fork, here + [step_choice], view, api_name="fork")
        switch_button.click(actions.fork, here + [branch_choice], view, api_name="switch_branch")
        compare_button.click(actions.compare, [session_id, left_branch, right_branch], [left_view, right_view],
                             api_name="compare")
        refresh_button.click(actions.list_sessions, search, session_table, api_name="list_sessions")
        search.submit(actions.list_sessions, search, session_table, api_name=False)
        session_table.select(_picked_id, session_table, chosen, api_name=False)
        open_button.click(actions.open_session, chosen, view, api_name="open_session")
        rename_button.click(actions.rename, here + [new_title], view, api_name="rename")
        delete_button.click(actions.delete, [chosen, search], [session_table, sessions_note], api_name="delete")
        export_button.click(actions.export, [session_id, export_format, export_scope], export_file, api_name="export")
        dropped.upload(actions.import_png, dropped, view, api_name="import_png")
        demo.load(actions.list_sessions, search, session_table, api_name=False)
    return demo


def _picked_id(table, event: gr.SelectData) -> str:
    row = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
    return str(table.iloc[row, 0]) if hasattr(table, "iloc") else str(table[row][0])
