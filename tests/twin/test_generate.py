from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.generate import MAX_TAGS, generate_plant, main, write_plant
from twin.plant import Plant, PlantFileError, Tag, load_plant, parse_plant

N = 10_000


@cache
def big() -> Plant:
    return generate_plant(N)


def test_ten_thousand_tags_with_unique_plant_style_names() -> None:
    plant = big()
    names = plant.tag_names
    assert len(names) == N
    assert len(set(names)) == N
    assert all(re.fullmatch(r"(LT|PT|TT|FT|GT|AT|WT|VT)-[1-9][0-9]*[0-9]{2}", n) for n in names)
    kinds = {t.kind for t in plant.tags}
    assert {"temperature", "pressure", "level", "flow", "flammable_gas", "toxic_gas"} <= kinds


def test_loads_back_identically_from_yaml(tmp_path: Path) -> None:
    path = write_plant(big(), tmp_path / "plant.yaml")
    assert load_plant(path) == big()
    again = write_plant(generate_plant(N), tmp_path / "again.yaml")
    assert again.read_bytes() == path.read_bytes()


def test_every_tag_is_valid_and_its_limits_ordered_inside_the_range() -> None:
    for tag in big().tags:
        assert Tag.model_validate(tag.model_dump()) == tag
        lo, hi = tag.range
        present = [v for v in (tag.limits.ll, tag.limits.l, tag.limits.h, tag.limits.hh) if v is not None]
        assert present == sorted(set(present)), tag.tag
        assert all(lo <= v <= hi for v in present), tag.tag
        assert tag.limits.h is not None and tag.limits.hh is not None, tag.tag
        assert (tag.limits.ll is None) == (tag.limits.l is None), tag.tag


def test_a_quiet_plant_raises_no_alarm() -> None:
    """Base +/- drift and 4 sigma of noise stay strictly between the L and H limits."""
    for tag in big().tags:
        swing = tag.sim.drift + 4 * tag.sim.noise
        if tag.limits.l is not None:
            assert tag.limits.l < tag.sim.base - swing, tag.tag
        assert tag.sim.base + swing < tag.limits.h, tag.tag  # type: ignore[operator]
        if tag.sim.excursion is not None:
            assert tag.sim.excursion.to > tag.limits.hh, tag.tag  # type: ignore[operator]


def test_excursions_and_wear_are_rare() -> None:
    upsets = sum(t.sim.excursion is not None for t in big().tags)
    wear = sum(t.sim.degradation > 0 for t in big().tags)
    assert 0.005 * N <= upsets <= 0.02 * N
    assert 0 < wear < 0.05 * N


def test_layout_is_a_grid_of_areas_holding_their_equipment() -> None:
    plant = big()
    width, height = plant.plant.size
    areas = {a.id: a for a in plant.areas}
    units = [a for a in plant.areas if a.kind in ("storage", "production")]
    for a in plant.areas:
        (x0, y0), (x1, y1) = a.bounds
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, a.id
    for i, a in enumerate(units):  # unit areas never overlap each other
        (ax0, ay0), (ax1, ay1) = a.bounds
        for b in units[i + 1 : i + 40]:
            (bx0, by0), (bx1, by1) = b.bounds
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, (a.id, b.id)
    for e in plant.equipment:
        (x0, y0), (x1, y1) = areas[e.area].bounds
        x, y, _ = e.position
        assert x0 + e.size[0] / 2 <= x <= x1 - e.size[0] / 2, e.id
        assert y0 + e.size[1] / 2 <= y <= y1 - e.size[1] / 2, e.id
    assert 0.5 <= width / height <= 2.0
    assert all(h.s_index >= 1 for h in plant.hazard_sources)


def test_same_seed_same_plant_other_seed_other_plant() -> None:
    assert generate_plant(500, seed=3) == generate_plant(500, seed=3)
    assert generate_plant(500, seed=3) != generate_plant(500, seed=4)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(min_value=1, max_value=400), seed=st.integers(min_value=0, max_value=2**32))
def test_any_size_gives_exactly_that_many_tags(n: int, seed: int) -> None:
    plant = generate_plant(n, seed=seed)
    assert len(plant.tags) == n
    assert parse_plant(plant.model_dump()) == plant
    used = {t.equipment for t in plant.tags}
    assert {e.id for e in plant.equipment if e.kind != "building"} == used


def test_the_first_tags_look_like_the_demo_plant() -> None:
    demo, plant = load_plant(), generate_plant(20)
    for name in ("LT-101", "PT-101", "TT-101"):
        assert plant.tag(name).limits == demo.tag(name).limits
        assert plant.tag(name).range == demo.tag(name).range
    assert plant.modbus_address(plant.tags[-1].tag) == 2 * 19


@pytest.mark.parametrize("n", [0, -1, MAX_TAGS + 1])
def test_sizes_outside_the_modbus_map_are_refused(n: int) -> None:
    with pytest.raises(ValueError, match="n_tags must be between 1 and 32767"):
        generate_plant(n)


def test_command_line_writes_a_loadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "plant.yaml"
    main(["--tags", "250", "--out", str(out), "--seed", "9"])
    assert load_plant(out) == generate_plant(250, seed=9)
    assert "250 tags" in capsys.readouterr().out


def test_a_json_plant_file_is_the_same_document_and_loads_fast(tmp_path: Path) -> None:
    plant = generate_plant(2_000)
    path = write_plant(plant, tmp_path / "plant.json")
    assert load_plant(path) == plant
    assert load_plant(write_plant(plant, tmp_path / "plant.yaml")) == plant
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == json.loads(path.read_text(encoding="utf-8"))


def test_a_broken_json_plant_file_says_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"plant": {"id": "x",\n  "name": }', encoding="utf-8")
    with pytest.raises(PlantFileError, match=r"line 2, column 11: not valid JSON"):
        load_plant(path)


def test_lookups_stay_right_after_a_copy_with_other_tags() -> None:
    plant = generate_plant(50)
    last = plant.tags[-1].tag
    assert plant.modbus_address(last) == 2 * 49  # builds the plant's index
    fewer = plant.model_copy(update={"tags": plant.tags[:10]})
    with pytest.raises(KeyError, match=repr(last)):
        fewer.tag(last)
    assert fewer.modbus_address(plant.tags[9].tag) == 18
    assert fewer == parse_plant(fewer.model_dump())
    assert plant.equipment_by_id(plant.tags[0].equipment).id == plant.tags[0].equipment
    with pytest.raises(KeyError, match="unknown equipment 'NOPE'"):
        plant.equipment_by_id("NOPE")
