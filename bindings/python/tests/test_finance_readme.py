"""The README's examples run, and print what their comments say (mypy --strict runs in test.sh)."""

import contextlib
import io

import pytest

from readme_examples import blocks, promised_output


def test_the_readme_has_the_finance_examples():
    sources = blocks()

    assert any("br.preview_charge(" in source for source in sources)
    assert any("br.reconcile(" in source for source in sources)


@pytest.mark.parametrize("source", blocks())
def test_a_readme_example_prints_what_its_comments_say(source):
    printed = io.StringIO()

    with contextlib.redirect_stdout(printed):
        exec(compile(source, "README.md", "exec"), {})

    lines = iter(printed.getvalue().splitlines())
    for promise in promised_output(source):
        prefix = promise.removesuffix("...").rstrip()
        assert any(line == promise or (promise.endswith("...") and line.startswith(prefix))
                   for line in lines), f"README promises {promise!r}; printed {printed.getvalue()!r}"
