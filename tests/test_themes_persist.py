"""Saved models: safe format, checksums, clear errors, atomic saves; and the themes CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sgreview.cli import main
from sgreview.errors import ModelError
from sgreview.redact import redact_incidents
from sgreview.synth import generate
from sgreview.themes import FORMAT_VERSION, apply_themes, fit_themes, load_model, save_model


@pytest.fixture(scope="module")
def incidents():
    data, _ = redact_incidents(generate(600, seed=5).incidents)
    return data


@pytest.fixture(scope="module")
def saved(tmp_path_factory, incidents):
    model = fit_themes(incidents, k="auto", seed=0)
    path = tmp_path_factory.mktemp("models") / "model"
    save_model(model, path)
    return model, path


def test_saved_model_applies_identically(saved, incidents):
    model, path = saved
    loaded = load_model(path)
    assert loaded.theme_ids_ == model.theme_ids_
    a = apply_themes(model, incidents).to_csv(index=False)
    b = apply_themes(loaded, incidents).to_csv(index=False)
    assert a == b


def test_model_folder_holds_no_pickles_and_records_version(saved):
    _, path = saved
    names = sorted(p.name for p in path.iterdir())
    assert "codebook.yaml" in names and "manifest.json" in names
    assert all(n.endswith((".json", ".npy", ".yaml")) for n in names)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert set(manifest["files"]) == {
        n for n in names if n not in ("manifest.json", "codebook.yaml")
    }
    for name in names:
        if name.endswith(".npy"):
            np.load(path / name, allow_pickle=False)  # raises if an object array slipped in


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_corrupt_array_is_refused(saved, tmp_path):
    _, path = saved
    bad = _copy(path, tmp_path / "bad")
    data = bytearray((bad / "centroids.npy").read_bytes())
    data[-1] ^= 0xFF
    (bad / "centroids.npy").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="centroids.npy does not match its checksum"):
        load_model(bad)


def test_npy_header_claiming_a_huge_array_is_refused_before_loading(saved, tmp_path):
    _, path = saved
    bad = _copy(path, tmp_path / "huge")
    raw = (bad / "sizes.npy").read_bytes()
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (50_000_000_000,)  # 373 GiB of float64
    import io as _io

    buf = _io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    (bad / "sizes.npy").write_bytes(buf.getvalue() + raw[-64:])
    manifest = json.loads((bad / "manifest.json").read_text())
    import hashlib

    manifest["files"]["sizes.npy"] = hashlib.sha256((bad / "sizes.npy").read_bytes()).hexdigest()
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="sizes.npy header claims 400,000,000,000 bytes"):
        load_model(bad)


def test_incompatible_version_is_refused(saved, tmp_path):
    _, path = saved
    bad = _copy(path, tmp_path / "old")
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["format_version"] = 99
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="format version 99 is not supported"):
        load_model(bad)


def test_folder_that_is_not_a_model_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a theme model directory"):
        load_model(tmp_path)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "missing")


def test_broken_manifest_json_is_refused(saved, tmp_path):
    _, path = saved
    bad = _copy(path, tmp_path / "json")
    (bad / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(bad)


def test_save_refuses_to_replace_a_folder_that_is_not_a_model(saved, tmp_path):
    model, _ = saved
    (tmp_path / "keep.txt").write_text("analyst notes")
    with pytest.raises(ModelError, match="refusing to replace"):
        save_model(model, tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "analyst notes"


def test_save_replaces_an_older_model_and_leaves_no_temp_files(saved, tmp_path):
    model, _ = saved
    target = tmp_path / "m"
    save_model(model, target)
    save_model(model, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    load_model(target)


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    data = generate(400, seed=2).incidents
    path = folder / "incidents.csv"
    data.to_csv(path, index=False)
    return path


def test_cli_fit_apply_evaluate(export, tmp_path, capsys):
    model_dir = tmp_path / "model"
    assert (
        main(["themes", "fit", str(export), "--out", str(model_dir), "--k", "8", "--seed", "1"])
        == 0
    )
    out = tmp_path / "assign.csv"
    code = main(
        [
            "themes",
            "apply",
            str(model_dir),
            str(export),
            "--out",
            str(out),
            "--themes",
            str(tmp_path / "t.csv"),
        ]
    )
    assert code == 0
    a = pd.read_csv(out)
    assert {"incident_id", "locality", "incident_date", "theme_id", "theme_label", "score"} <= set(
        a.columns
    )
    assert "narrative" not in a.columns
    capsys.readouterr()
    assert main(["themes", "evaluate", str(export), "--label-column", "category", "--k", "8"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {
        "nmi",
        "ari",
        "k",
        "n",
        "unthemed_share",
        "stability",
        "seconds",
        "best_match_f1",
    } <= set(result)


def test_cli_outputs_never_overwrite_the_input(export, tmp_path, capsys):
    before = export.read_bytes()
    model_dir = tmp_path / "model"
    assert main(["themes", "fit", str(export), "--out", str(model_dir), "--k", "4"]) == 0
    assert main(["themes", "apply", str(model_dir), str(export), "--out", str(export)]) == 2
    assert main(["themes", "fit", str(export), "--out", str(export)]) == 2
    assert main(["validate", str(export), "--rejects", str(export)]) == 2
    assert main(["redact", str(export), "--out", str(export)]) == 2
    err = capsys.readouterr().err
    assert err.count("would overwrite the input file") == 4
    assert "Traceback" not in err
    assert export.read_bytes() == before


def test_cli_unwritable_output_folder_is_one_line_exit_2(export, tmp_path, capsys):
    import os

    if os.geteuid() == 0:
        locked = tmp_path / "file-not-folder"
        locked.write_text("x")
        target = locked / "sub"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "sub"
    commands = [
        ["themes", "fit", str(export), "--out", str(target / "model"), "--k", "4"],
        ["redact", str(export), "--out", str(target / "r.csv")],
        ["validate", str(export), "--rejects", str(target / "rej.csv")],
        ["synth", "--out", str(target / "s.csv"), "--n", "50"],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot write output here" in err, (argv, err)


def test_cli_bad_model_dir_is_one_line_exit_2(export, tmp_path, capsys):
    out = tmp_path / "a.csv"
    code = main(["themes", "apply", str(tmp_path / "nope"), str(export), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "model directory not found" in err
    assert not out.exists()


def test_cli_codebook_syntax_error_is_exit_2_with_nothing_written(export, tmp_path, capsys):
    model_dir = tmp_path / "model"
    assert main(["themes", "fit", str(export), "--out", str(model_dir), "--k", "6"]) == 0
    (model_dir / "codebook.yaml").write_text("themes:\n  - id: T01\n    label: [oops\n")
    out = tmp_path / "a.csv"
    capsys.readouterr()
    code = main(["themes", "apply", str(model_dir), str(export), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "syntax error" in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_k_larger_than_data_is_exit_2(export, tmp_path, capsys):
    out = tmp_path / "model"
    code = main(["themes", "fit", str(export), "--out", str(out), "--k", "5000"])
    err = capsys.readouterr().err
    assert code == 2 and "k=5000" in err
    assert not out.exists()


def test_cli_empty_narratives_is_exit_2(tmp_path, capsys):
    df = generate(50, seed=1).incidents.assign(narrative=".")
    path = tmp_path / "empty.csv"
    df.to_csv(path, index=False)
    code = main(["themes", "fit", str(path), "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("sgreview: error:")
    assert not (tmp_path / "m").exists()


def test_edited_codebook_with_unknown_id_is_refused_on_load(saved, tmp_path):
    _, path = saved
    bad = _copy(path, tmp_path / "book")
    text = (bad / "codebook.yaml").read_text()
    (bad / "codebook.yaml").write_text(
        text.replace("- id: T01\n", "- id: T01\n  merge_into: T99\n", 1)
    )
    with pytest.raises(ModelError, match="unknown theme id T99"):
        load_model(bad)


def test_cli_two_incidents_is_exit_2(tmp_path, capsys):
    path = tmp_path / "two.csv"
    generate(2, seed=1).incidents.to_csv(path, index=False)
    code = main(["themes", "fit", str(path), "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and "at least 3" in err and err.count("\n") == 1
