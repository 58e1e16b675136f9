"""`maisky import`: writing, dry runs, --force, folders, and every bad input refused cleanly."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from adapters.cli import main
from tests.conftest import ROOT
from tests.test_import_formats import write_epub, write_pdf

PROVENANCE = [
    "--title", "Notes on the embassy", "--author", "A Club Member", "--publication", "Club newsletter",
    "--date", "2024-01-02", "--url", "https://example.org/notes", "--licence", "CC BY 4.0",
]  # fmt: skip


@pytest.fixture
def seeds(seeds_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MAISKY_SEEDS", str(seeds_copy))
    return seeds_copy


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_import_writes_a_source_the_bot_answers_from(tmp_path: Path, seeds: Path) -> None:
    book = write_pdf(
        tmp_path / "book.pdf",
        [[["The Observatory"], ["The embassy observatory held a brass telescope that Maisky", "polished daily."]]],
    )
    code, out = run("import", str(book), *PROVENANCE, "--id", "club-notes")
    assert code == 0, out
    assert "passages: 1" in out and "written to" in out
    data = tomllib.loads((seeds / "club-notes.toml").read_text(encoding="utf-8"))
    assert data["source"]["licence"] == "CC BY 4.0"
    code, answer = run("ask", "Did the embassy observatory have a telescope?")
    assert code == 0 and "brass telescope" in answer and "[club-notes." in answer


def test_retrieved_instead_of_a_publication_date(tmp_path: Path, seeds: Path) -> None:
    text = tmp_path / "page.txt"
    text.write_text("A web page.\n", encoding="utf-8")
    undated = [a if a != "--date" else "--retrieved" for a in PROVENANCE]
    code, out = run("import", str(text), *undated, "--dry-run")
    assert code == 0 and "retrieved = 2024-01-02" in out and "\ndate = " not in out
    with pytest.raises(SystemExit) as usage:
        run("import", str(text), *PROVENANCE, "--retrieved", "2024-01-02")
    assert usage.value.code == 2


def test_dry_run_prints_the_toml_and_writes_nothing(
    tmp_path: Path, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("Maisky wrote: “Fog again.”\n", encoding="utf-8")
    before = listing(seeds)
    code, out = run("import", str(text), *PROVENANCE, "--dry-run")
    assert code == 0
    assert tomllib.loads(out)["passage"][0]["quote"][0] == {
        "text": "Fog again.", "speaker": "maisky", "context": "as quoted in this source"
    }  # fmt: skip
    assert "Import report" in capsys.readouterr().err
    assert listing(seeds) == before


def test_an_existing_source_is_replaced_only_with_force_keeping_its_ids(tmp_path: Path, seeds: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("First paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    assert run("import", str(text), *PROVENANCE, "--id", "notes")[0] == 0
    target = seeds / "notes.toml"
    target.write_text(target.read_text(encoding="utf-8").replace('"second-paragraph"', '"the-second"'), "utf-8")
    curated = target.read_bytes()
    text.write_text("New opening.\n\nFirst paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    code, _ = run("import", str(text), *PROVENANCE, "--id", "notes")
    assert code == 1 and target.read_bytes() == curated
    assert run("import", str(text), *PROVENANCE, "--id", "notes", "--force")[0] == 0
    ids = [p["id"] for p in tomllib.loads(target.read_text(encoding="utf-8"))["passage"]]
    assert ids == ["new-opening", "first-paragraph", "the-second"]


def test_a_folder_or_several_files_make_one_source(tmp_path: Path, seeds: Path) -> None:
    folder = tmp_path / ".club" / "book"  # a hidden folder above is fine; hidden files inside are skipped
    folder.mkdir(parents=True)
    (folder / ".notes.md").write_text("Private notes.\n", encoding="utf-8")
    (folder / "01.md").write_text("# Omsk\n\nMaisky grew up in Omsk.\n", encoding="utf-8")
    write_epub(folder / "02.epub", [("London", "<p>Maisky arrived in London.</p>")])
    (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    code, out = run("import", str(folder), *PROVENANCE, "--id", "book")
    assert code == 0, out
    passages = tomllib.loads((seeds / "book.toml").read_text(encoding="utf-8"))["passage"]
    assert [(p["section"], p["text"]) for p in passages] == [
        ("Omsk", "Maisky grew up in Omsk."),
        ("London", "Maisky arrived in London."),
    ]
    assert "skipped a file of a format the importer does not read: 'cover.jpg'" in out


def _cp1252(path: Path) -> Path:
    path.write_bytes("Maisky’s “diary” was kept in London, café by café.\n".encode("cp1252"))
    return path


def _drm_epub(folder: Path) -> Path:
    plain = write_epub(folder / "plain.epub", [("One", "<p>Text.</p>")])
    locked = folder / "locked.epub"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(locked, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr(
            "META-INF/encryption.xml",
            '<encryption><EncryptedData><CipherData><CipherReference URI="EPUB/chapter1.xhtml"/>'
            "</CipherData></EncryptedData></encryption>",
        )
    return locked


def _password_pdf(folder: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.cell(0, 6, "Secret text.")
    pdf.set_encryption(owner_password="owner", user_password="user")
    pdf.output(str(folder / "locked.pdf"))
    return folder / "locked.pdf"


BAD_INPUTS = {
    "drm epub": (_drm_epub, "is DRM-protected"),
    "password pdf": (_password_pdf, "is password-protected"),
    "empty": (lambda d: _write(d / "empty.txt", b""), "is empty"),
    "binary": (lambda d: _write(d / "data.txt", bytes(range(256)) * 40), "is a binary file"),
    "unknown format": (lambda d: _write(d / "notes.rtf", b"{\\rtf1 hello}"), "has an unknown format (.rtf)"),
    "word document": (lambda d: _write(d / "notes.docx", b"PK\x03\x04" + b"\x00" * 60), "is a ZIP archive"),
    "scanned pdf": (lambda d: write_pdf(d / "scan.pdf", [[]], text=False), "has no text layer"),
    "broken pdf": (lambda d: _write(d / "broken.pdf", b"%PDF-1.4\n garbage"), "is not a readable PDF"),
    "broken epub": (lambda d: _write(d / "broken.epub", b"PK\x03\x04application/epub+zip"), "is not a readable EPUB"),
    "missing": (lambda d: d / "nowhere.txt", "does not exist"),
    "deeply nested html": (
        lambda d: _write(d / "deep.html", b"<div>" * 5000 + b"text" + b"</div>" * 5000),
        "nests its elements too deeply",
    ),
    "huge": (lambda d: _sparse(d / "huge.txt", 100 * 1024 * 1024), "over the 50 MB limit"),
    "other encoding": (lambda d: _cp1252(d / "latin.txt"), "is not UTF-8 (it looks like"),
    "utf-16 without a byte-order mark": (
        lambda d: _write(d / "wide.txt", "Maisky’s diary, kept in London.\n".encode("utf-16-le")),
        "is not UTF-8 (it looks like utf-16-le); convert it to UTF-8, or run the import again with "
        "--encoding utf-16-le",
    ),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_clear_message_and_writes_nothing(
    case: str, tmp_path: Path, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, message = BAD_INPUTS[case]
    path = make(tmp_path)
    before = listing(seeds)
    code, _ = run("import", str(path), *PROVENANCE)
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"maisky: {path}: ") and message in err, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert listing(seeds) == before


def test_another_encoding_imports_when_named(tmp_path: Path, seeds: Path) -> None:
    path = _cp1252(tmp_path / "latin.txt")
    code, out = run("import", str(path), *PROVENANCE, "--encoding", "cp1252", "--dry-run")
    assert code == 0 and "Maisky’s “diary” was kept in London, café by café." in out


def test_an_existing_file_is_not_overwritten_without_force(tmp_path: Path, seeds: Path) -> None:
    text = tmp_path / "x.txt"
    text.write_text("Text.\n", encoding="utf-8")
    before = listing(seeds)
    code, _ = run("import", str(text), *PROVENANCE, "--id", "globe-2015")
    assert code == 1 and listing(seeds) == before


def test_a_real_process_prints_no_traceback(tmp_path: Path, seeds: Path) -> None:
    path = _write(tmp_path / "data.txt", bytes(range(256)) * 40)
    result = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "import", str(path), *PROVENANCE],
        cwd=ROOT, env={**os.environ, "MAISKY_SEEDS": str(seeds)}, capture_output=True, text=True, timeout=180,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(f"maisky: {path}: is a binary file") and "Traceback" not in result.stderr


def test_sources_show_the_licence() -> None:
    code, out = run("sources")
    assert code == 0 and "Wikipedia contributors, “Ivan Maisky”" in out and "Licence: CC BY-SA 4.0" in out
