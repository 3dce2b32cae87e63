"""KPI targets: scaled to the period for additive metrics, kept for ratios, attainment both ways, and
a bad targets file named by entry and field."""

from datetime import date
from decimal import Decimal

import pytest

from shoplens.errors import ReportError
from shoplens.reports.targets import EXAMPLE, Target, load_targets, resolve


@pytest.mark.parametrize("metric, days, expected", [
    ("gmv", 14, Decimal(200)),  # additive: twice the weekly target
    ("gmv", 7, Decimal(100)),
    ("roas", 14, Decimal(100)),  # a ratio keeps its value
    ("live_peak_concurrent", 14, Decimal(100)),  # a maximum does not add up either
])
def test_targets_scale_with_the_period_only_when_additive(metric, days, expected):
    assert Target("s", "o", "operations", metric, Decimal(100)).for_days(days) == expected


def test_attainment_for_higher_and_lower_is_better():
    assert Target("s", "o", "operations", "gmv", Decimal(70)).attainment(Decimal(84), 7) == pytest.approx(1.2)
    assert Target("s", "o", "operations", "refund_rate", Decimal("0.05")).attainment(0.04, 7) == pytest.approx(1.25)
    assert Target("s", "o", "operations", "gmv", Decimal(70)).attainment(None, 7) is None


@pytest.mark.parametrize("body, message", [
    ('[[target]]\nshop = "a"\nowner = "X"\nrole = "boss"\nmetric = "gmv"\nweekly = 1', "target 1: role 'boss' is not one"),
    ('[[target]]\nshop = "a"\nowner = "X"\nrole = "operations"\nmetric = "revenue"\nweekly = 1',
     "target 1: unknown metric 'revenue'"),
    ('[[target]]\nshop = "a"\nowner = "X"\nrole = "operations"\nmetric = "gmv"', "target 1 lacks weekly"),
    ('[[target]]\nshop = "zz"\nowner = "X"\nrole = "operations"\nmetric = "gmv"\nweekly = 1', "shop 'zz' is not synced"),
    ('[[target]]\nshop = "a"\nowner = "X"\nrole = "operations"\nmetric = "gmv"\nweekly = 0', "weekly must be above zero"),
])
def test_a_bad_targets_file_is_named(tmp_path, body, message):
    path = tmp_path / "targets.toml"
    path.write_text(body)
    with pytest.raises(ReportError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_targets(path, known_shops={"a"})


def test_the_workspace_file_wins_over_the_example(tmp_path):
    assert resolve("", tmp_path) == EXAMPLE
    (tmp_path / "targets.toml").write_text("")
    assert resolve("", tmp_path) == tmp_path / "targets.toml"
    assert len(load_targets(EXAMPLE, known_shops={"7494000000000042001"})) == 4  # the other shops' are left out


def test_the_shipped_example_for_shops_this_workspace_lacks_means_no_targets_not_an_error():
    """A real seller's shops are not the sandbox's: without a targets.toml the scorecard says how to set
    targets instead of failing in every weekly run."""
    assert load_targets(EXAMPLE, known_shops={"7494000000000000999"}) == []
    assert len(load_targets(EXAMPLE, known_shops={"7494000000000042001"})) >= 1


def test_a_targets_file_with_no_entries_means_no_targets(tmp_path):
    path = tmp_path / "targets.toml"
    path.write_text("# [[target]]\n# shop = \"...\"\n")  # as `shoplens init` writes it
    assert load_targets(path, known_shops={"a"}) == []
