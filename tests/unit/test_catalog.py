"""The catalog: SPEC §4's example loads, defaults apply, bad catalogs are refused with the file,
the path and the value, numbers stay exact, and the content hash keys a version."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.core.catalog import Catalog, catalog_from_document, parse_catalog
from billing.core.catalog.yaml_text import load_yaml
from billing.core.errors import CatalogError
from billing.core.pricing.flat import FlatCharge
from billing.core.pricing.graduated import GraduatedCharge
from billing.core.pricing.tiers import Tier
from billing.sources.catalog_file import load_catalog

# SPEC §4, verbatim.
SPEC_YAML = """\
currency: USD
metrics:
  - code: api_calls
    event_type: api_call
    aggregation: count            # count | sum | max | unique_count | latest
  - code: storage_gb
    event_type: storage
    aggregation: max
    field: gb                     # property aggregated (sum, max, unique_count, latest)
    filters: {region: eu}         # optional: property equality filters
plans:
  - code: pro
    name: Pro
    interval: monthly             # monthly | quarterly | yearly
    trial_days: 14
    minimum_commitment: "100.00"  # optional: true-up line if the period's charges (usage + flat) total less
    charges:
      - {model: flat, amount: "30.00", timing: in_advance, prorate: true}
      - metric: api_calls
        model: graduated          # per_unit | package | graduated | volume | percentage
        tiers:
          - {up_to: 5, unit_price: "7.00"}
          - {up_to: 10, unit_price: "6.50"}
          - {up_to: null, unit_price: "6.00", flat_fee: "0"}
customers:
  - id: acme
    name: Acme Inc
    email: billing@acme.example
    timezone: America/New_York     # periods start at local midnight
    contracts:
      - plan: pro
        starts_on: 2026-01-15
        ends_on: null
        auto_renew: true
        term_months: 12
        overrides:                 # optional: per-customer price overrides by charge index
          1: {tiers: [{up_to: null, unit_price: "5.00"}]}
        credits:                   # optional: prepaid credits, burned before the total
          - {amount: "50.00", granted_on: 2026-01-15, expires_on: 2026-12-31}
"""

# The same catalog with keys reordered, other whitespace and quoting, and different comments.
SPEC_YAML_REWRITTEN = """\
# a comment at the top
metrics:
  - {aggregation: count, event_type: api_call, code: api_calls}
  - filters:
      region: eu
    field: gb
    aggregation: max
    event_type: storage
    code: storage_gb
currency: USD
customers:
  - contracts:
      - credits: [{expires_on: 2026-12-31, granted_on: 2026-01-15, amount: 50.00}]
        overrides: {1: {tiers: [{unit_price: 5.00, up_to: null}]}}
        term_months: 12
        auto_renew: true
        ends_on: null
        starts_on: 2026-01-15
        plan: pro
    timezone: America/New_York
    email: billing@acme.example
    name: Acme Inc
    id: acme
plans:
  - charges:
      - prorate: true
        timing: in_advance
        amount: 30.00
        model: flat
      - tiers:
          - {unit_price: 7.00, up_to: 5}
          - {unit_price: 6.50, up_to: 10}
          - {flat_fee: 0, unit_price: 6.00, up_to: null}     # the last tier
        model: graduated
        metric: api_calls
    minimum_commitment: 100.00
    trial_days: 14
    interval: monthly
    name: Pro
    code: pro
"""

# A plain catalog that leaves every optional setting out.
MINIMAL_YAML = """\
currency: JPY
metrics:
  - {code: api_calls, event_type: api_call, aggregation: count}
  - {code: gmv, event_type: payment, aggregation: sum, field: amount}
plans:
  - code: basic
    interval: monthly
    charges:
      - {model: flat, amount: "1000"}
      - {model: package, metric: api_calls, package_size: 100, package_price: "50"}
      - {model: graduated, metric: api_calls, tiers: [{up_to: null, unit_price: "1"}]}
      - {model: percentage, metric: gmv, rate: "2.9"}
customers:
  - id: c1
    email: c1@example.com
    contracts:
      - {plan: basic, starts_on: 2026-01-01}
"""


def write(tmp_path: Path, text: str, name: str = "catalog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> Catalog:
    return load_catalog(write(tmp_path, text))


def mutate(old: str, new: str, text: str = SPEC_YAML) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)


def refusal(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = write(tmp_path, text, "bad-catalog.yaml")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert message == "\n".join(caught.value.problems)
    return path, message


# -- the SPEC example ------------------------------------------------------------------------------


def test_spec_example_loads(tmp_path: Path) -> None:
    catalog = load_text(tmp_path, SPEC_YAML)

    assert catalog.currency.code == "USD"
    api, storage = catalog.metrics
    assert (api.code, api.event_type, api.aggregation, api.field) == ("api_calls", "api_call", "count", None)
    assert (storage.aggregation, storage.field, storage.filters) == ("max", "gb", {"region": "eu"})
    assert catalog.metric("storage_gb") is storage

    plan = catalog.plan("pro")
    assert (plan.name, plan.interval, plan.interval_months, plan.trial_days) == ("Pro", "monthly", 1, 14)
    assert plan.minimum_commitment == Decimal("100.00")
    flat, graduated = plan.charges
    assert flat == FlatCharge(model="flat", amount=Decimal("30.00"), timing="in_advance", prorate=True)
    assert isinstance(graduated, GraduatedCharge)
    assert graduated.metric_code == "api_calls"
    assert graduated.tiers == (
        Tier(up_to=Decimal(5), unit_price=Decimal("7.00")),
        Tier(up_to=Decimal(10), unit_price=Decimal("6.50")),
        Tier(up_to=None, unit_price=Decimal("6.00"), flat_fee=Decimal(0)),
    )

    customer = catalog.customer("acme")
    assert (customer.display_name, customer.email, customer.timezone) == (
        "Acme Inc",
        "billing@acme.example",
        "America/New_York",
    )
    (contract,) = customer.contracts
    assert contract.plan == "pro"
    assert (contract.starts_on, contract.ends_on) == (date(2026, 1, 15), None)
    assert (contract.auto_renew, contract.term_months) == (True, 12)
    assert contract.last_day is None  # auto-renewing: rolls into a new term
    (credit,) = contract.credits
    assert (credit.amount, credit.granted_on, credit.expires_on) == (
        Decimal("50.00"),
        date(2026, 1, 15),
        date(2026, 12, 31),
    )

    # the override replaces charge 1's tiers for this contract only; the plan is unchanged
    flat_c, graduated_c = catalog.contract_charges("acme", 0)
    assert flat_c == flat
    assert isinstance(graduated_c, GraduatedCharge)
    assert graduated_c.metric == "api_calls"
    assert graduated_c.tiers == (Tier(up_to=None, unit_price=Decimal("5.00")),)
    assert catalog.plan("pro").charges[1].tiers[0].unit_price == Decimal("7.00")  # type: ignore[attr-defined]


def test_defaults_are_applied(tmp_path: Path) -> None:
    catalog = load_text(tmp_path, MINIMAL_YAML)

    api = catalog.metric("api_calls")
    assert api.filters == {}
    plan = catalog.plan("basic")
    assert plan.label == "basic"  # name defaults to the code
    assert plan.trial_days == 0
    assert plan.minimum_commitment is None
    flat, package, graduated, percentage = plan.charges
    assert (flat.timing, flat.prorate) == ("in_advance", True)  # type: ignore[attr-defined]
    assert package.free_units == 0  # type: ignore[attr-defined]
    assert graduated.tiers[0].flat_fee == 0  # type: ignore[attr-defined]
    assert percentage.per_transaction_fee == 0  # type: ignore[attr-defined]

    customer = catalog.customer("c1")
    assert customer.display_name == "c1"  # name defaults to the id
    assert customer.timezone == "UTC"
    (contract,) = customer.contracts
    assert contract.ends_on is None
    assert contract.term_months is None
    assert contract.auto_renew is False
    assert contract.last_day is None  # neither term nor end: open-ended
    assert contract.overrides == {}
    assert contract.credits == ()
    assert catalog.contract_charges("c1", 0) == plan.charges


def test_customers_are_optional(tmp_path: Path) -> None:
    text = MINIMAL_YAML.split("customers:")[0]
    catalog = load_text(tmp_path, text)
    assert catalog.customers == ()
    assert catalog.plan("basic").code == "basic"


def test_plan_interval_may_be_quarterly_or_yearly(tmp_path: Path) -> None:
    for interval, months in (("quarterly", 3), ("yearly", 12)):
        catalog = load_text(tmp_path, mutate("interval: monthly", f"interval: {interval}", MINIMAL_YAML))
        assert catalog.plan("basic").interval_months == months


def test_contract_with_a_term_and_no_renewal_ends_after_the_term(tmp_path: Path) -> None:
    text = mutate("auto_renew: true", "auto_renew: false")
    catalog = load_text(tmp_path, text)
    # 2026-01-15 + 12 months - 1 day
    assert catalog.customer("acme").contracts[0].last_day == date(2027, 1, 14)


# -- numbers stay exact ----------------------------------------------------------------------------


def _no_floats(value: object) -> None:
    assert not isinstance(value, float), value
    if isinstance(value, dict):
        for item in value.values():
            _no_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _no_floats(item)


def test_float_looking_numbers_are_read_as_exact_decimals(tmp_path: Path) -> None:
    text = """\
currency: USD
metrics:
  - {code: api_calls, event_type: api_call, aggregation: count}
  - {code: gmv, event_type: payment, aggregation: sum, field: amount, filters: {tier: 2.50}}
plans:
  - code: basic
    interval: monthly
    minimum_commitment: 100.10
    charges:
      - {model: flat, amount: 30.10}
      - {model: per_unit, metric: api_calls, unit_price: 0.1}
      - {model: percentage, metric: gmv, rate: 2.9, per_transaction_fee: 0.30}
      - model: volume
        metric: api_calls
        tiers: [{up_to: 1.5, unit_price: 0.000000000001}, {up_to: null, unit_price: 0.3}]
customers:
  - id: c1
    email: c1@example.com
    contracts:
      - plan: basic
        starts_on: 2026-01-01
        credits: [{amount: 0.7, granted_on: 2026-01-01}]
"""
    catalog = load_text(tmp_path, text)
    flat, per_unit, percentage, volume = catalog.plan("basic").charges
    assert per_unit.unit_price == Decimal("0.1")  # type: ignore[attr-defined]
    assert str(per_unit.unit_price) == "0.1"  # type: ignore[attr-defined]  # not 0.1000000000000000055...
    assert str(flat.amount) == "30.10"  # type: ignore[attr-defined]  # the written digits are kept
    assert str(catalog.plan("basic").minimum_commitment) == "100.10"
    assert percentage.rate == Decimal("2.9")  # type: ignore[attr-defined]
    assert str(percentage.per_transaction_fee) == "0.30"  # type: ignore[attr-defined]
    assert volume.tiers[0].up_to == Decimal("1.5")  # type: ignore[attr-defined]
    assert volume.tiers[0].unit_price == Decimal("1E-12")  # type: ignore[attr-defined]
    assert volume.tiers[1].unit_price == Decimal("0.3")  # type: ignore[attr-defined]
    assert catalog.metric("gmv").filters == {"tier": Decimal("2.50")}
    assert catalog.customer("c1").contracts[0].credits[0].amount == Decimal("0.7")
    _no_floats(catalog.model_dump())
    # and the canonical document writes them as their exact decimal text
    document = json.loads(catalog.document)
    assert document["plans"][0]["charges"][1]["unit_price"] == "0.1"


def test_load_yaml_never_makes_a_float() -> None:
    data = load_yaml("a: 0.1\nb: 1.10\nc: -2.5e+3\nd: 7\ne: '0.1'\nf: 1_000.5\n")
    assert data == {
        "a": Decimal("0.1"),
        "b": Decimal("1.10"),
        "c": Decimal("-2.5e+3"),
        "d": 7,
        "e": "0.1",
        "f": Decimal("1000.5"),
    }
    assert str(data["b"]) == "1.10"
    _no_floats(data)


# -- bad catalogs: file, path and value ------------------------------------------------------------

PERCENTAGE_YAML = """\
currency: USD
metrics:
  - {code: api_calls, event_type: api_call, aggregation: count}
  - {code: gmv, event_type: payment, aggregation: sum, field: amount}
plans:
  - code: payments
    interval: monthly
    charges:
      - {model: flat, amount: "10.00"}
      - {model: percentage, metric: gmv, rate: "2.9", per_transaction_fee: "0.30"}
"""

CONTRACTS_YAML = """\
currency: USD
metrics:
  - {code: api_calls, event_type: api_call, aggregation: count}
plans:
  - code: basic
    interval: monthly
    charges: [{model: flat, amount: "10.00"}]
  - code: pro
    interval: monthly
    charges: [{model: flat, amount: "20.00"}]
customers:
  - id: c1
    email: c1@example.com
    contracts:
      - {plan: basic, starts_on: 2026-01-01, ends_on: 2026-03-10}
      - {plan: pro, starts_on: 2026-03-11}
"""

BAD_CASES = [
    pytest.param(
        mutate("metric: api_calls\n        model: graduated", "metric: api_callz\n        model: graduated"),
        "plans[0].charges[1].metric",
        "'api_callz'",
        id="unknown-metric",
    ),
    pytest.param(
        # tier 1 ends where tier 0 ends: the two overlap
        mutate('{up_to: 10, unit_price: "6.50"}', '{up_to: 5, unit_price: "6.50"}'),
        "plans[0].charges[1].tiers[1].up_to",
        "(got 5)",
        id="overlapping-tiers",
    ),
    pytest.param(
        mutate('{up_to: 5, unit_price: "7.00"}', '{up_to: 12, unit_price: "7.00"}'),
        "plans[0].charges[1].tiers[1].up_to",
        "(got 10)",
        id="unsorted-tiers",
    ),
    pytest.param(
        mutate('{up_to: null, unit_price: "6.00"', '{up_to: 20, unit_price: "6.00"'),
        "plans[0].charges[1].tiers[2].up_to",
        "(got 20)",
        id="last-tier-bounded",
    ),
    pytest.param(
        mutate('{up_to: 10, unit_price: "6.50"}', '{up_to: 10, unit_price: "-6.50"}'),
        "plans[0].charges[1].tiers[1].unit_price",
        "-6.50",
        id="negative-unit-price",
    ),
    pytest.param(
        mutate('amount: "30.00"', "amount: -30.00"),
        "plans[0].charges[0].amount",
        "-30",
        id="negative-flat-amount",
    ),
    pytest.param(
        mutate('minimum_commitment: "100.00"', 'minimum_commitment: "-1"'),
        "plans[0].minimum_commitment",
        "-1",
        id="negative-minimum",
    ),
    pytest.param(mutate("currency: USD", "currency: XYZ"), "currency", "XYZ", id="unknown-currency"),
    pytest.param(
        mutate("timezone: America/New_York", "timezone: Mars/Olympus_Mons"),
        "customers[0].timezone",
        "Mars/Olympus_Mons",
        id="unknown-timezone",
    ),
    pytest.param(
        mutate("metric: gmv, rate", "metric: api_calls, rate", PERCENTAGE_YAML),
        "plans[0].charges[1].metric",
        "'api_calls'",
        id="percentage-on-count-metric",
    ),
    pytest.param(
        mutate("- plan: pro", "- plan: gold"), "customers[0].contracts[0].plan", "'gold'", id="unknown-plan"
    ),
    pytest.param(
        # the second contract starts on the first one's last day
        mutate("starts_on: 2026-03-11", "starts_on: 2026-03-10", CONTRACTS_YAML),
        "customers[0].contracts[1].starts_on",
        "2026-03-10",
        id="overlapping-contracts",
    ),
    pytest.param(
        mutate("1: {tiers:", "5: {tiers:"),
        "customers[0].contracts[0].overrides",
        "5",
        id="override-index-out-of-range",
    ),
    pytest.param(
        mutate(
            '1: {tiers: [{up_to: null, unit_price: "5.00"}]}',
            '1: {tiers: [{up_to: null, unit_price: "-5.00"}]}',
        ),
        "customers[0].contracts[0].overrides.1",
        "-5.00",
        id="override-makes-negative-price",
    ),
    pytest.param(
        mutate(
            '1: {tiers: [{up_to: null, unit_price: "5.00"}]}', '1: {tiers: [{up_to: 3, unit_price: "5.00"}]}'
        ),
        "customers[0].contracts[0].overrides.1.tiers[0].up_to",
        "(got 3)",
        id="override-makes-bounded-last-tier",
    ),
    pytest.param(
        mutate('- {model: flat, amount: "30.00"', '- {model: flat, amount: "30.0000000000001"'),
        "plans[0].charges[0].amount",
        "30.0000000000001",
        id="more-than-12-decimals",
    ),
    pytest.param(
        mutate("aggregation: count ", "aggregation: counts "),
        "metrics[0].aggregation",
        "'counts'",
        id="unknown-aggregation",
    ),
    pytest.param(
        mutate("model: graduated ", "model: stepped "), "plans[0].charges[1]", "stepped", id="unknown-model"
    ),
    pytest.param(
        mutate("trial_days: 14", "trial_days: -1"), "plans[0].trial_days", "-1", id="negative-trial"
    ),
    pytest.param(  # YAML's true is not a number of days (it was read as 1)
        mutate("trial_days: 14", "trial_days: true"), "plans[0].trial_days", "True", id="trial-days-bool"
    ),
    pytest.param(
        mutate("term_months: 12", "term_months: 12\n        notifications: {renewal_upcoming: [30, yes]}"),
        "customers[0].contracts[0].notifications.renewal_upcoming[1]",
        "True",
        id="offset-bool",
    ),
    pytest.param(
        mutate("term_months: 12", "term_months: on"),
        "customers[0].contracts[0].term_months",
        "True",
        id="term-bool",
    ),
    pytest.param(
        mutate("interval: monthly ", "interval: weekly "),
        "plans[0].interval",
        "'weekly'",
        id="unknown-interval",
    ),
    pytest.param(
        mutate("ends_on: null", "ends_on: 2026-01-01"),
        "customers[0].contracts[0]",
        "2026-01-01",
        id="ends-before-it-starts",
    ),
    pytest.param(
        mutate("expires_on: 2026-12-31", "expires_on: 2026-01-01"),
        "customers[0].contracts[0].credits[0]",
        "2026-01-01",
        id="credit-expires-before-grant",
    ),
    pytest.param(
        mutate('{amount: "50.00"', '{amount: "0"'),
        "customers[0].contracts[0].credits[0].amount",
        "'0'",
        id="credit-not-positive",
    ),
    pytest.param(
        mutate("  - code: storage_gb", "  - code: api_calls"),
        "metrics[1].code",
        "'api_calls'",
        id="duplicate-metric",
    ),
    pytest.param(
        mutate("starts_on: 2026-01-15", "start_on: 2026-01-15"),
        "customers[0].contracts[0].start_on",
        "known setting",
        id="misspelt-key",
    ),
]


@pytest.mark.parametrize(("text", "path", "value"), BAD_CASES)
def test_bad_catalog_is_refused_naming_file_path_and_value(
    tmp_path: Path, text: str, path: str, value: str
) -> None:
    file, message = refusal(tmp_path, text)
    assert message.startswith(f"{file}: "), message
    assert f"{file}: {path}" in message, message
    assert value in message, message


def test_every_problem_is_reported_on_its_own_line(tmp_path: Path) -> None:
    text = mutate("currency: USD", "currency: XYZ", mutate('unit_price: "6.50"', 'unit_price: "-6.50"'))
    file, message = refusal(tmp_path, text)
    lines = message.splitlines()
    assert len(lines) == 2, lines
    assert any(line.startswith(f"{file}: currency: ") for line in lines)
    assert any(line.startswith(f"{file}: plans[0].charges[1].tiers[1].unit_price: ") for line in lines)


def test_invalid_yaml_is_refused_with_the_file_and_line(tmp_path: Path) -> None:
    file, message = refusal(tmp_path, mutate("currency: USD", "currency: [USD"))
    assert message.startswith(f"{file}: not valid YAML"), message
    assert "line 1" in message
    assert "\n" not in message  # one line


def test_infinite_number_is_refused(tmp_path: Path) -> None:
    file, message = refusal(tmp_path, mutate('amount: "30.00"', "amount: .inf"))
    assert message.startswith(f"{file}: "), message
    assert ".inf" in message


def test_missing_file_is_refused_with_its_name(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "catalog.yaml"
    with pytest.raises(CatalogError) as caught:
        load_catalog(missing)
    assert str(caught.value).startswith(f"{missing}: ")
    assert "cannot read" in str(caught.value)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_a_catalog_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    file, message = refusal(tmp_path, text)
    assert message.startswith(f"{file}: ")
    assert "mapping" in message


@pytest.mark.parametrize("section", ["currency", "metrics", "plans"])
def test_required_sections(tmp_path: Path, section: str) -> None:
    data = load_yaml(MINIMAL_YAML)
    del data[section]
    with pytest.raises(CatalogError, match=f"^cat.yaml: {section}: is required$"):
        parse_catalog(data, "cat.yaml")


# SPEC §4 lists `interval` among the required plan fields: a plan that forgets it must not
# silently bill monthly.
def test_plan_interval_is_required(tmp_path: Path) -> None:
    file, message = refusal(tmp_path, mutate("    interval: monthly\n", "", MINIMAL_YAML))
    assert f"{file}: plans[0].interval: is required" in message


# A tier problem names the offending tier's field, not the whole list, so a user can jump to it.
@pytest.mark.parametrize(
    ("old", "new", "path", "value"),
    [
        ('{up_to: 10, unit_price: "6.50"}', '{up_to: 5, unit_price: "6.50"}', "tiers[1].up_to", "(got 5)"),
        ('{up_to: 5, unit_price: "7.00"}', '{up_to: 12, unit_price: "7.00"}', "tiers[1].up_to", "(got 10)"),
        ('{up_to: null, unit_price: "6.00"', '{up_to: 20, unit_price: "6.00"', "tiers[2].up_to", "(got 20)"),
    ],
    ids=["overlapping", "unsorted", "last-bounded"],
)
def test_tier_problems_name_the_offending_tier(
    tmp_path: Path, old: str, new: str, path: str, value: str
) -> None:
    file, message = refusal(tmp_path, mutate(old, new))
    assert f"{file}: plans[0].charges[1].{path}: " in message, message
    assert value in message, message


# An override is validated on its own, so pydantic's location starts with the union's tag
# ("graduated"); the path shown must name only keys that are in the file.
def test_override_problem_path_has_no_model_tag(tmp_path: Path) -> None:
    text = mutate(
        '1: {tiers: [{up_to: null, unit_price: "5.00"}]}', '1: {tiers: [{up_to: null, unit_price: "-5.00"}]}'
    )
    file, message = refusal(tmp_path, text)
    assert message == (
        f"{file}: customers[0].contracts[0].overrides.1.tiers[0].unit_price: "
        "must not be negative (got '-5.00')"
    )


# A date value is shown as written in the file, not as its Python repr.
def test_date_values_are_shown_as_written(tmp_path: Path) -> None:
    text = mutate(
        "- {plan: basic, starts_on: 2026-01-01, ends_on: 2026-03-10}",
        "- {plan: basic, starts_on: 2026-01-01}",
        mutate("starts_on: 2026-03-11", "starts_on: 2026-03-01", CONTRACTS_YAML),
    )
    file, message = refusal(tmp_path, text)
    assert f"{file}: customers[0].contracts[1].starts_on: " in message
    assert "(got 2026-03-01)" in message, message
    assert "datetime" not in message


# An override that does not replace the tiers keeps the plan's (the last tier's `up_to: null`
# included).
@pytest.mark.parametrize("override", ["{description: API calls}", "{model: volume}", "{metric: storage_gb}"])
def test_override_that_keeps_the_tiers(tmp_path: Path, override: str) -> None:
    text = mutate('1: {tiers: [{up_to: null, unit_price: "5.00"}]}', f"1: {override}")
    catalog = load_text(tmp_path, text)
    charge = catalog.contract_charges("acme", 0)[1]
    assert charge.tiers == catalog.plan("pro").charges[1].tiers  # type: ignore[attr-defined]


def test_override_of_a_flat_charge(tmp_path: Path) -> None:
    text = mutate('1: {tiers: [{up_to: null, unit_price: "5.00"}]}', '0: {amount: "45.00", prorate: false}')
    catalog = load_text(tmp_path, text)
    flat = catalog.contract_charges("acme", 0)[0]
    assert (flat.amount, flat.prorate, flat.timing) == (Decimal("45.00"), False, "in_advance")  # type: ignore[attr-defined]


def test_override_with_an_unknown_metric_is_refused(tmp_path: Path) -> None:
    text = mutate(
        "      - metric: api_calls\n", "      - {model: per_unit, metric: api_calls, unit_price: '1'}\n"
    )
    text = mutate(
        "        model: graduated          # per_unit | package | graduated | volume | percentage\n"
        "        tiers:\n"
        '          - {up_to: 5, unit_price: "7.00"}\n'
        '          - {up_to: 10, unit_price: "6.50"}\n'
        '          - {up_to: null, unit_price: "6.00", flat_fee: "0"}\n',
        "",
        text,
    )
    text = mutate('1: {tiers: [{up_to: null, unit_price: "5.00"}]}', "1: {metric: nope}", text)
    file, message = refusal(tmp_path, text)
    assert f"{file}: customers[0].contracts[0].overrides.1.metric: " in message, message
    assert "'nope'" in message


# -- the content hash ------------------------------------------------------------------------------


def test_version_is_stable_across_key_order_whitespace_quoting_and_comments(tmp_path: Path) -> None:
    original = load_text(tmp_path, SPEC_YAML)
    rewritten = load_catalog(write(tmp_path, SPEC_YAML_REWRITTEN, "other.yaml"))
    assert rewritten.document == original.document
    assert rewritten.version == original.version
    assert len(original.version) == 64
    int(original.version, 16)  # a hex sha256


def test_version_is_deterministic(tmp_path: Path) -> None:
    assert load_text(tmp_path, SPEC_YAML).version == load_text(tmp_path, SPEC_YAML).version


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('{up_to: 10, unit_price: "6.50"}', '{up_to: 10, unit_price: "6.51"}'),
        ('amount: "30.00"', 'amount: "31.00"'),
        ('unit_price: "5.00"', 'unit_price: "4.00"'),
        ('{amount: "50.00"', '{amount: "60.00"'),
        ("timezone: America/New_York", "timezone: Europe/Paris"),
    ],
)
def test_version_changes_when_a_price_or_setting_changes(tmp_path: Path, old: str, new: str) -> None:
    assert load_text(tmp_path, mutate(old, new)).version != load_text(tmp_path, SPEC_YAML).version


def test_version_includes_defaults(tmp_path: Path) -> None:
    # writing a default out explicitly describes the same catalog
    explicit = mutate(
        '{model: flat, amount: "1000"}', '{model: flat, amount: "1000", timing: in_advance}', MINIMAL_YAML
    )
    assert load_text(tmp_path, explicit).version == load_text(tmp_path, MINIMAL_YAML).version


@pytest.mark.parametrize(
    "text", [SPEC_YAML, SPEC_YAML_REWRITTEN, MINIMAL_YAML, PERCENTAGE_YAML, CONTRACTS_YAML]
)
def test_document_round_trips(tmp_path: Path, text: str) -> None:
    catalog = load_text(tmp_path, text)
    restored = catalog_from_document(catalog.document)
    # overrides are kept as written (an unquoted 5.00 is a Decimal, the document's "5.00" a str), so
    # compare what they mean: the canonical form and each contract's resolved charges
    assert restored.model_dump(mode="json") == catalog.model_dump(mode="json")
    assert restored.document == catalog.document
    assert restored.version == catalog.version
    for customer in catalog.customers:
        for index in range(len(customer.contracts)):
            assert restored.contract_charges(customer.id, index) == catalog.contract_charges(
                customer.id, index
            )


def test_stored_document_that_went_bad_is_refused() -> None:
    document = json.loads(parse_catalog(load_yaml(MINIMAL_YAML)).document)
    document["currency"] = "XYZ"
    with pytest.raises(CatalogError, match=r"^stored catalog: currency: .*XYZ"):
        catalog_from_document(json.dumps(document))


def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    file, message = refusal(tmp_path, mutate("currency: USD", "currency: USD\ncurrency: EUR"))
    assert message == f"{file}: not valid YAML: the key 'currency' is written twice (line 2, column 1)"


@pytest.mark.parametrize("lists", [64, 5000])
def test_nesting_past_64_levels_is_one_problem_not_a_recursion_error(tmp_path: Path, lists: int) -> None:
    # the document's mapping is the first level: its 64th list (column 67) is the 65th
    file, message = refusal(tmp_path, "currency: USD\nx: " + "[" * lists + "]" * lists + "\n")
    assert message == f"{file}: not valid YAML: nested more than 64 levels deep (line 2, column 67)"


def test_nesting_of_64_levels_is_read() -> None:
    value: list[object] = []
    for _ in range(62):
        value = [value]
    assert load_yaml("x: " + "[" * 63 + "]" * 63) == {"x": value}


def test_an_impossible_date_is_reported_at_its_path(tmp_path: Path) -> None:
    file, message = refusal(tmp_path, mutate("starts_on: 2026-01-15", "starts_on: 2026-02-30"))
    assert message.startswith(f"{file}: customers[0].contracts[0].starts_on: ")
    assert "(got '2026-02-30')" in message


@pytest.mark.parametrize(
    ("price", "fragment"),
    [
        ('"1.0000000000001"', "has more than 12 decimals"),
        ('"1.00000000000000000000000000001"', "has more than 12 decimals"),  # beyond 28 digits too
        ('"1e999999999"', "must be less than 1,000,000,000,000,000"),
    ],
)
def test_prices_are_refused_beyond_12_decimals_or_a_quadrillion(
    tmp_path: Path, price: str, fragment: str
) -> None:
    file, message = refusal(tmp_path, mutate('unit_price: "7.00"', f"unit_price: {price}"))
    assert message.startswith(f"{file}: plans[0].charges[1].tiers[0].unit_price: {fragment}"), message


# -- amounts billed as written: at most the currency's minor-unit digits (SPEC §4) ----------------


@pytest.mark.parametrize(
    ("old", "new", "path", "shown"),
    [
        pytest.param(
            'amount: "50.00"',
            'amount: "3.335"',
            "customers[0].contracts[0].credits[0].amount",
            "3.335",
            id="credit",
        ),
        pytest.param(
            'amount: "30.00"', 'amount: "30.005"', "plans[0].charges[0].amount", "30.005", id="flat"
        ),
        pytest.param(
            'minimum_commitment: "100.00"',
            'minimum_commitment: "100.001"',
            "plans[0].minimum_commitment",
            "100.001",
            id="minimum",
        ),
        pytest.param(
            '1: {tiers: [{up_to: null, unit_price: "5.00"}]}',
            '0: {amount: "45.999"}',
            "customers[0].contracts[0].overrides.0.amount",
            "45.999",
            id="flat-override",
        ),
    ],
)
def test_an_amount_beyond_the_minor_units_is_refused_at_load(
    tmp_path: Path, old: str, new: str, path: str, shown: str
) -> None:
    # A credit of 3.335 USD would make a 10.00 invoice total 6.665, shown as 6.67: refused.
    file, message = refusal(tmp_path, mutate(old, new))
    assert message == f"{file}: {path}: has more decimals than USD bills (2 minor-unit digits) (got {shown})"


def test_minor_units_are_the_catalog_currency_s(tmp_path: Path) -> None:
    yen = mutate("currency: USD", "currency: JPY")
    file, message = refusal(tmp_path, mutate('amount: "50.00"', 'amount: "50.5"', yen))
    assert message == (
        f"{file}: customers[0].contracts[0].credits[0].amount: "
        "has more decimals than JPY bills (0 minor-unit digits) (got 50.5)"
    )
    assert load_text(tmp_path, yen).customers[0].contracts[0].credits[0].amount == Decimal("50.00")
    dinar = mutate("currency: USD", "currency: KWD")
    credit = load_text(tmp_path, mutate('amount: "50.00"', 'amount: "3.335"', dinar)).customers[0]
    assert credit.contracts[0].credits[0].amount == Decimal("3.335")


def test_prices_summed_into_a_line_keep_their_sub_minor_digits(tmp_path: Path) -> None:
    # A tier's flat fee, like a unit price, is part of a line rounded once: "0.005" is a price.
    text = mutate(
        '{up_to: null, unit_price: "6.00", flat_fee: "0"}',
        '{up_to: null, unit_price: "6.001", flat_fee: "0.005"}',
    )
    tier = load_text(tmp_path, text).plan("pro").charges[1].tiers[2]  # type: ignore[attr-defined]
    assert (tier.unit_price, tier.flat_fee) == (Decimal("6.001"), Decimal("0.005"))


# -- every problem in one pass, in the catalog author's words ------------------------------------

# Pydantic's own phrasing: a catalog author must never see it.
PYDANTIC_PHRASES = (
    "Input should",
    "String should",
    "should have at least",
    "should have at most",
    "after validation",
    "Field required",
    "Extra inputs",
    "Value error",
    "Assertion failed",
    "Unable to",
    "Input tag",
    "expected tags",
    "discriminator",
    "Decimal input",
    "Datetimes provided",
    "greater than or equal",
    "less than or equal",
    "valid dictionary",
    "valid tuple",
    "valid list",
    "valid integer",
    "valid decimal",
    "valid boolean",
    "valid date",
    "valid string",
    "validation error",
    "type=",
    "pydantic",
)


def assert_product_words(message: str, source: str) -> None:
    for line in message.splitlines():
        assert line.startswith(f"{source}: "), line
        assert not [p for p in PYDANTIC_PHRASES if p.lower() in line.lower()], line


def test_a_field_error_and_a_cross_reference_are_reported_at_once(tmp_path: Path) -> None:
    text = MINIMAL_YAML.replace(
        "plans:\n",
        "plans:\n"
        "  - {code: broken, interval: weekly, charges: [{model: flat, amount: '1'}]}\n"
        "  - {code: other, interval: monthly,\n"
        "     charges: [{model: per_unit, metric: api_cals, unit_price: '1'}]}\n",
    )
    file, message = refusal(tmp_path, text)
    assert message.splitlines() == [
        f"{file}: plans[0].interval: must be one of 'monthly', 'quarterly' or 'yearly' (got 'weekly')",
        f"{file}: plans[1].charges[0].metric: unknown metric (known: api_calls, gmv) (got 'api_cals')",
    ]


def test_the_valid_charges_and_contracts_of_an_invalid_item_are_checked_too(tmp_path: Path) -> None:
    text = (
        MINIMAL_YAML.replace("interval: monthly", "interval: monthly\n    trial_days: soon")
        .replace('{model: flat, amount: "1000"}', '{model: per_unit, metric: calls, unit_price: "1"}')
        .replace("email: c1@example.com", "email: nobody")
        .replace("{plan: basic, starts_on: 2026-01-01}", "{plan: premium, starts_on: 2026-01-01}")
    )
    file, message = refusal(tmp_path, text)
    assert message.splitlines() == [
        f"{file}: plans[0].trial_days: must be a whole number (got 'soon')",
        f"{file}: customers[0].email: must be an email address such as billing@example.com (got 'nobody')",
        f"{file}: plans[0].charges[0].metric: unknown metric (known: api_calls, gmv) (got 'calls')",
        f"{file}: customers[0].contracts[0].plan: unknown plan (known: basic) (got 'premium')",
    ]


def test_a_reference_to_an_item_with_its_own_problems_is_not_reported_as_unknown(tmp_path: Path) -> None:
    text = MINIMAL_YAML.replace(
        "{code: gmv, event_type: payment, aggregation: sum", "{code: gmv, aggregation: total"
    )
    text = text.replace("  - code: basic\n    interval: monthly\n", "  - code: basic\n    interval: daily\n")
    file, message = refusal(tmp_path, text)
    # the percentage charge on gmv and the contract on basic are not "unknown"
    assert message.splitlines() == [
        f"{file}: metrics[1].event_type: is required",
        f"{file}: metrics[1].aggregation: must be one of 'count', 'sum', 'max', 'unique_count' or 'latest'"
        " (got 'total')",
        f"{file}: plans[0].interval: must be one of 'monthly', 'quarterly' or 'yearly' (got 'daily')",
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'charges:\n      - {model: flat, amount: "1000"}\n'
            '      - {model: package, metric: api_calls, package_size: 100, package_price: "50"}\n'
            '      - {model: graduated, metric: api_calls, tiers: [{up_to: null, unit_price: "1"}]}\n'
            '      - {model: percentage, metric: gmv, rate: "2.9"}\n',
            "charges: []\n",
            "plans[0].charges: needs at least one item",
        ),
        (
            "{code: api_calls,",
            "{code: api calls,",
            "metrics[0].code: a code may contain only letters, digits",
        ),
        ("id: c1", "id: -c1", "customers[0].id: a customer id may contain only letters, digits"),
        ("id: c1", "id: ''", "customers[0].id: must not be empty"),
        ("aggregation: count}", "aggregation: counts}", "must be one of 'count', 'sum', 'max'"),
        ("{model: flat,", "{model: fixed,", "plans[0].charges[0].model: is not a charge model (known: flat,"),
        ("{model: flat, amount", "{amount", "plans[0].charges[0].model: is required: the charge's model"),
        (
            'amount: "1000"',
            "amount: lots",
            'plans[0].charges[0].amount: must be a decimal number such as "12.50"',
        ),
        (
            "starts_on: 2026-01-01}",
            "starts_on: 2026-01-01, term_months: 1.5}",
            "must be a whole number (got 1.5)",
        ),
        ("starts_on: 2026-01-01}", "starts_on: 2026-01-01, auto_renew: often}", "must be true or false"),
        ("starts_on: 2026-01-01", "starts_on: 2026-02-30", "starts_on: must be a date written YYYY-MM-DD"),
        ("starts_on: 2026-01-01", "starts_on: 2026-01-01 10:00", "without a time of day"),
        (
            "starts_on: 2026-01-01}",
            "starts_on: 2026-01-01, term_months: 0}",
            "term_months: must be greater than 0",
        ),
        ("interval: monthly", "interval: monthly\n    trial_days: -3", "trial_days: must be 0 or more"),
        ("metrics:\n", "metrics: api_calls\nold_metrics:\n", "metrics: must be a list (got 'api_calls')"),
        ("contracts:\n", "contracts: {plan: basic}\n    old:\n", "contracts: must be a list"),
        (
            "  - id: c1",
            "  - name: nobody\n    id: c1\n    tax: 1",
            "customers[0].tax: is not a known setting",
        ),
        (
            "{code: gmv, event_type: payment,",
            "{code: gmv, event_type: [payment],",
            "metrics[1].event_type: must be text",
        ),
    ],
)
def test_field_errors_speak_the_products_words(tmp_path: Path, old: str, new: str, expected: str) -> None:
    file, message = refusal(tmp_path, mutate(old, new, MINIMAL_YAML))
    assert f"{file}: {expected}" in message or expected in message, message
    assert_product_words(message, str(file))


def _places(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every path into parsed YAML: mappings by key, lists by index."""
    found: list[tuple[object, ...]] = [path]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found += _places(child, (*path, key))
    return found


_ODD_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.text(max_size=12)
    | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_mangled_catalog_is_loaded_or_refused_in_the_products_words(data: st.DataObject) -> None:
    catalog = load_yaml(MINIMAL_YAML)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_places(catalog)[1:]))
        parent = catalog
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(_ODD_VALUES)
    try:
        parse_catalog(catalog, "cat.yaml")
    except CatalogError as error:
        assert error.problems, "a refusal names at least one problem"
        assert_product_words(str(error), "cat.yaml")


# -- what invoices print: the seller, the customer's address and tax id ------------------------

SELLER_YAML = MINIMAL_YAML.replace(
    "customers:\n  - id: c1\n    email: c1@example.com\n",
    "seller:\n"
    "  name: Example Cloud Ltd\n"
    '  address: ["1 Main St", "Springfield"]\n'
    "  email: billing@example.com\n"
    "  tax_id: GB123456789\n"
    "customers:\n  - id: c1\n    email: c1@example.com\n"
    '    address: ["2 Side St", "Boston MA"]\n'
    "    tax_id: US-99\n",
)


def test_seller_and_customer_details_load(tmp_path: Path) -> None:
    catalog = load_text(tmp_path, SELLER_YAML)
    seller = catalog.seller
    assert seller is not None
    assert (seller.name, seller.address, seller.email, seller.tax_id) == (
        "Example Cloud Ltd",
        ("1 Main St", "Springfield"),
        "billing@example.com",
        "GB123456789",
    )
    customer = catalog.customer("c1")
    assert (customer.address, customer.tax_id) == (("2 Side St", "Boston MA"), "US-99")
    assert catalog_from_document(catalog.document) == catalog


def test_seller_and_customer_details_are_optional(tmp_path: Path) -> None:
    catalog = load_text(tmp_path, MINIMAL_YAML)
    assert catalog.seller is None
    assert (catalog.customer("c1").address, catalog.customer("c1").tax_id) == ((), None)
    minimal = load_text(
        tmp_path, SELLER_YAML.replace("  email: billing@example.com\n  tax_id: GB123456789\n", "")
    )
    assert minimal.seller is not None and (minimal.seller.email, minimal.seller.tax_id) == (None, None)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  name: Example Cloud Ltd\n", "", "seller.name: is required"),
        ("  name: Example Cloud Ltd", "  name: ''", "seller.name: must not be empty"),
        (
            "  email: billing@example.com",
            "  email: billing",
            "seller.email: must be an email address such as billing@example.com (got 'billing')",
        ),
        ('  address: ["1 Main St", "Springfield"]', "  address: 1 Main St", "seller.address: must be a list"),
        ('["2 Side St", "Boston MA"]', '["2 Side St", ""]', "customers[0].address[1]: must not be empty"),
        ("    tax_id: US-99", "    tax_id: [US, 99]", "customers[0].tax_id: must be text"),
        ("  tax_id: GB123456789", "  vat: GB123456789", "seller.vat: is not a known setting"),
    ],
)
def test_bad_seller_or_customer_details_are_refused(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    file, message = refusal(tmp_path, mutate(old, new, SELLER_YAML))
    assert f"{file}: {expected}" in message, message


@given(
    st.dictionaries(
        st.text(alphabet="abcdefghij_", min_size=1, max_size=8),
        st.one_of(
            st.booleans(),
            st.text(max_size=10),
            st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9),
            st.integers(min_value=-(10**12), max_value=10**12),
        ),
        max_size=4,
    )
)
def test_a_stored_version_keeps_each_filter_value_and_its_type(filters) -> None:
    catalog = parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count", "filters": filters}],
            "plans": [{"code": "p", "interval": "monthly", "charges": [{"model": "flat", "amount": "1"}]}],
            "customers": [],
        }
    )
    stored = catalog_from_document(catalog.document)
    (metric,) = stored.metrics
    assert {k: (type(v), v) for k, v in metric.filters.items()} == {
        k: (type(v), v) for k, v in catalog.metrics[0].filters.items()
    }
    assert stored.version == catalog.version
