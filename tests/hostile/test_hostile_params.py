"""Engine settings and the boundary's scalar checks, fuzzed: any JSON text the HTTP API or
`bench geneval --params` could be sent is either a valid, finite, schema-conforming dict or one
StudioError line, and a session is only created with settings every later stage can use.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio import engines as registry
from studio.core import limits
from studio.core.domain import RunSettings, StudioError
from studio.engines.offline import OfflineEngine

from ..kits import hostile_kit as kit

TALLY = kit.Tally("params")
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
SCHEMA = OfflineEngine.params
VALUES = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
)
JSON = st.recursive(
    VALUES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    TALLY.save()


def conforms(params: object) -> bool:
    """The oracle: a dict whose names the offline engine declares, each a finite number in its range."""
    if not isinstance(params, dict):
        return False
    for name, value in params.items():
        spec = SCHEMA.get(name)
        if spec is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not math.isfinite(value) or not spec.low <= value <= spec.high:
            return False
    return True


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(sorted(SCHEMA)) | st.text(max_size=8), VALUES, max_size=4
    )
    | JSON
)
def test_offline_settings_are_accepted_exactly_when_they_fit_the_schema(params):
    text = json.dumps(params, allow_nan=True)
    try:
        checked = limits.engine_params("offline", text, registry)
        accepted = True
    except StudioError as error:
        accepted = False
        assert "\n" not in str(error) and len(str(error)) < 400
    TALLY.record(refused_cleanly=not accepted, should_refuse=not conforms(params))
    assert accepted == conforms(params), (text, accepted)
    if accepted:
        assert (
            json.loads(json.dumps(checked, allow_nan=False)) == checked
        )  # storable, exportable JSON


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"draft_noise": "abc"}', "takes a finite number"),
        ('{"draft_noise": 1e999}', "finite"),
        ('{"draft_noise": NaN}', "not JSON"),
        ('{"draft_noise": -Infinity}', "not JSON"),
        ('{"unknown": 1}', "has no setting"),
        ("[1, 2]", "must be a JSON object"),
        ("[" * 4000 + "]" * 4000, "nested too deeply"),
        ("[" * 100_000 + "]" * 100_000, "limit is 10,000"),
        ('{"a": ' + "[" * 3000 + "]" * 3000 + "}", "nested too deeply"),
        ('{"a": [[[[1]]]]}', "nested too deeply"),
        ("\udcff", "not valid UTF-8"),
        ('{"draft_noise": 0.5', "not JSON"),
    ],
)
def test_bad_engine_settings_are_one_line(text, message):
    with pytest.raises(StudioError, match=message) as raised:
        limits.engine_params("offline", text, registry)
    assert "\n" not in str(raised.value)
    TALLY.record(refused_cleanly=True)


def test_gpu_engines_declare_their_settings_and_check_ranges():
    from studio.engines.base import check_params
    from studio.engines.janus import JanusEngine
    from studio.engines.pipeline import PipelineEngine

    assert check_params("janus", JanusEngine.params, {"max_think_tokens": 12.0}) == {
        "max_think_tokens": 12
    }
    for engine, schema, bad in (
        ("janus", JanusEngine.params, {"cfg_text_scale": 500}),
        ("pipeline", PipelineEngine.params, {"strength": "high"}),
        ("pipeline", PipelineEngine.params, {"steps": 2.5}),
    ):
        with pytest.raises(StudioError, match="engine setting"):
            check_params(engine, schema, bad)


def test_a_session_is_created_only_with_settings_its_stages_can_use(runner):
    with pytest.raises(StudioError, match="draft_noise"):
        runner.new_session("a cat", "offline", 1, RunSettings(engine_params={"draft_noise": "abc"}))
    assert runner.store.count_sessions() == 0


def test_an_engine_this_install_cannot_load_leaves_no_session(runner):
    def broken():
        raise StudioError("engine 'broken' needs the gpu extra: pip install -e \".[gpu]\"")

    registry.register("broken", broken)
    try:
        with pytest.raises(StudioError, match="gpu extra"):
            runner.new_session("a cat", "broken", 1)
    finally:
        registry.unregister("broken")
    assert runner.store.count_sessions() == 0


@settings(max_examples=200, deadline=None, database=None)
@given(
    value=st.integers(-(2**80), 2**80)
    | st.floats()
    | st.text(max_size=30)
    | st.booleans()
    | st.none()
)
def test_seeds_rounds_and_versions_are_whole_numbers_in_range_or_one_line(value):
    for check, low, high in (
        (limits.seed, 0, limits.MAX_SEED),
        (limits.rounds, 1, limits.MAX_ROUNDS),
        (limits.version, 0, limits.MAX_VERSION),
    ):
        try:
            result = check(value)
        except StudioError as error:
            assert "\n" not in str(error) and len(str(error)) < 300
            TALLY.record(refused_cleanly=True, should_refuse=True)
            continue
        TALLY.record(refused_cleanly=False, should_refuse=False)
        assert result is None or (isinstance(result, int) and low <= result <= high)


@settings(max_examples=200, deadline=None, database=None)
@given(value=st.text(st.characters(exclude_categories=()), max_size=300))
def test_text_limits_never_pass_undecodable_or_oversized_text(value):
    for check, most in (
        (limits.prompt, limits.MAX_PROMPT_CHARS),
        (limits.title, limits.MAX_TITLE_CHARS),
        (limits.search, limits.MAX_SEARCH_CHARS),
        (limits.session_id, 32),
    ):
        try:
            result = check(value)
        except StudioError as error:
            assert "\n" not in str(error)
            str(error).encode("utf-8")  # the message itself is printable
            continue
        if result is not None:
            result.encode("utf-8")
            assert "\x00" not in result and len(result) <= most


@settings(max_examples=100, deadline=None, database=None)
@given(
    seed=st.none() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    rounds=st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    mode=st.sampled_from(["process", "single", "SINGLE", "paint", ""]),
    random_seed=st.booleans(),
)
def test_new_session_inputs_are_checked_together(seed, rounds, mode, random_seed):
    """What /new_session's handler calls: either every input is usable or one line says which is not."""
    try:
        prompt, engine, chosen, run_settings = limits.new_session(
            "a cat", "offline", seed, random_seed, rounds, mode, "{}", engines=registry
        )
    except StudioError as error:
        assert "\n" not in str(error)
        return
    assert (prompt, engine) == (
        "a cat",
        "offline",
    ) and 1 <= run_settings.max_rounds <= limits.MAX_ROUNDS
    assert chosen is None or 0 <= chosen <= limits.MAX_SEED
    assert random_seed is False or chosen is None


# -- text that shows nothing, numbers that are not finite, list limits -----------------------------

INVISIBLE = [
    "\u200b",  # zero width space
    "\u200b\u200c\u200d",  # and the joiners
    " \ufeff\u2060 ",  # BOM, word joiner, spaces
    "\u00ad",  # soft hyphen
    "\u202e\u202c",  # bidi override and pop
    "\u2066\u2069",  # isolate
    "\u3164\u115f",  # Hangul fillers (letters that draw nothing)
    "\u2800",  # braille blank
    "\x01\u200b\x7f",  # controls
    "\U000e0041\U000e007f",  # tag characters
]


@pytest.mark.parametrize("value", INVISIBLE)
def test_text_that_shows_nothing_is_empty(value):
    for check, what in ((limits.prompt, "prompt"), (limits.title, "title")):
        with pytest.raises(StudioError, match=f"The {what} is empty") as raised:
            check(value)
        assert "\n" not in str(raised.value)
        TALLY.record(refused_cleanly=True)
    assert limits.search(value) is None  # a search for nothing lists everything
    assert limits.note(value) == ""


@pytest.mark.parametrize(
    "value", ["a\u200bcat", "👩\u200d👩\u200d👧", "\u202ecat", "ا\u200fب", "x"]
)
def test_text_with_something_visible_is_kept_as_typed(value):
    assert limits.prompt(value) == value and limits.title(value) == value
    TALLY.record(refused_cleanly=False, should_refuse=False)


@settings(max_examples=200, deadline=None, database=None)
@given(
    value=st.floats()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from(["nan", "inf", "-inf", "1e999", "abc", "", "5"])
)
def test_a_lease_is_a_finite_number_of_seconds_in_range_or_one_line(value):
    try:
        number = float(value)
    except (ValueError, OverflowError):
        number = math.nan
    fits = math.isfinite(number) and limits.MIN_LEASE_S <= number <= limits.MAX_LEASE_S
    try:
        result = limits.lease(value)
    except StudioError as error:
        assert "\n" not in str(error) and "--lease" in str(error)
        TALLY.record(refused_cleanly=True, should_refuse=not fits)
        assert not fits, value
        return
    TALLY.record(refused_cleanly=False, should_refuse=not fits)
    assert fits and math.isfinite(result) and result == round(number)


def test_a_run_whose_first_stage_fails_keeps_the_session_it_was_given(runner):
    """/new_session confirmed it to its person: /run (Runner.run) never removes it; only a caller
    that made it for this run (studio run, a batch item) may discard it, and says so."""
    trajectory = runner.new_session("0", "offline", 1)
    with pytest.raises(StudioError, match="prompt"):
        runner.run(trajectory)
    assert runner.store.count_sessions() == 1
    assert runner.discard_if_empty(trajectory) and runner.store.count_sessions() == 0


@pytest.mark.parametrize("limit", [-1, 0, 10**8, 2**70, "abc", "", 1.5, float("nan"), True, [5]])
def test_the_gallery_list_limit_is_a_whole_number_in_range_or_one_line(runner, limit):
    from studio.ui.actions import Studio

    runner.new_session("a cat", "offline", 1)
    with pytest.raises(StudioError, match="number of sessions to list") as raised:
        Studio(runner).list_sessions("", "", limit)
    assert "\n" not in str(raised.value)
    TALLY.record(refused_cleanly=True)
    assert len(Studio(runner).list_sessions("", "", "1")) == 1
