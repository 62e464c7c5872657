"""Every query parameter a link can carry refuses what it cannot read in one sentence (issue 22):
Unicode digits, deep nesting and arbitrary text, fuzzed at the library's parsers, then a few
hostile links opened on every page in AppTest."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from explorer import PRESETS
from explorer.arch.share import QUERY_KEYS, from_query
from explorer.arch.spec import SpecError, input_from_text
from explorer.links import json_depth, run_id, whole_number
from explorer.training.recipe import recipe_from_link

# digits of other scripts and superscripts (isdigit() but not int()), brackets, quotes, Markdown
HOSTILE = st.text(alphabet=st.sampled_from("0123456789,.:x-s²³٣१０ [{]}\"'\\$*_`<>!()ABCDnoe\u200b"), max_size=40)
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _one_sentence(call, *args) -> None:
    """`call(*args)` returns or raises SpecError whose message is one line naming the field."""
    try:
        call(*args)
    except SpecError as exc:
        assert "\n" not in str(exc) and ": " in str(exc)


@pytest.mark.parametrize("key", QUERY_KEYS)
@FAST
@given(text=HOSTILE)
@example(text="3,²,224")
@example(text="٣")
@example(text="[" * 1000)
def test_every_design_parameter_refuses_in_a_sentence(key, text):
    _one_sentence(from_query, {key: text})


@FAST
@given(text=HOSTILE)
@example(text="[" * 1000 + "]" * 1000)
@example(text='{"epochs": [[[[[1]]]]]}')
@example(text='{"network": ["resnet20"]}')
def test_the_recipe_parameter_refuses_in_a_sentence(text):
    _one_sentence(recipe_from_link, text, PRESETS, "Current design")


@FAST
@given(text=HOSTILE)
@example(text="١٢")
@example(text="99999999999999999999")
def test_the_job_parameter_refuses_in_a_sentence(text):
    _one_sentence(run_id, text)


@pytest.mark.parametrize("text", ["3,²,224", "3,٣,224", "3,２２４,224", "3, 224 ,-1"])
def test_only_ascii_digits_are_numbers(text):
    with pytest.raises(SpecError, match="expected C,H,W as three whole numbers"):
        input_from_text(text)
    with pytest.raises(SpecError, match=r"classes: expected a whole number \(digits 0-9, at most 7\)"):
        from_query({"classes": "١٠"})
    assert whole_number("0042", "classes") == 42


def test_nesting_is_measured_before_parsing():
    assert json_depth('{"a": "[[[[[[", "b": [1, {"c": 2}]}') == 3  # brackets in strings do not count
    with pytest.raises(SpecError) as err:
        recipe_from_link("[" * 1000 + "]" * 1000, PRESETS, "Current design")
    assert str(err.value) == 'recipe: nested more than 4 levels deep (expected JSON such as {"epochs":5})'
    assert recipe_from_link('{"network":"resnet20","epochs":3}', PRESETS, "x")[1].epochs == 3


HOSTILE_LINKS = {  # one AppTest session per page: every hostile value at once
    "input": "3,²,224",
    "classes": "١٠",
    "recipe": "[" * 1000 + "]" * 1000,
    "job": "٣",
    "stages": "[" * 500,
}


PAGES = {  # what each page says of the links above (the challenge and Why residuals? read none of them)
    "design": ["The link's network could not be used (input: expected C,H,W"],
    "train": [
        "The link's network could not be used (input: expected C,H,W",
        "Ignoring ?job='٣': not a run number.",
        "The link's training settings could not be used (recipe: nested more than 4 levels deep",
    ],
    "compare": ["The link's network could not be used (input: expected C,H,W"],
    "challenge": [],
    "why_residuals": [],
}


@pytest.mark.parametrize("page", PAGES)
def test_hostile_links_give_sentences_on_every_page(fresh, page):
    from streamlit.testing.v1 import AppTest

    from tests.apptest import APP, shown

    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in HOSTILE_LINKS.items():
        at.query_params[key] = value
    at.switch_page(f"app_pages/{page}.py").run()  # the link's page is the session's first
    assert not at.exception
    warnings = [shown(w.value) for w in at.warning]  # as a reader sees them: link values are escaped
    for start in PAGES[page]:
        assert any(w.startswith(start) for w in warnings), (start, warnings)
