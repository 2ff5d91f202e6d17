"""Translation catalogs: ``extract`` updates the French and Arabic catalogs and compiles them;
``check`` fails when extracting strings would change a catalog, when a compiled catalog is stale,
or when a plural header is wrong (Arabic has six forms).

Catalogs: ``xblocks/conf/locale/<lang>/LC_MESSAGES/{django,djangojs}.po`` (+ ``.mo``).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import polib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "xblocks"
LANGUAGES = ("fr", "ar")
DOMAINS = ("django", "djangojs")
PLURAL_FORMS = {
    "fr": "nplurals=2; plural=(n > 1);",
    "ar": "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);",
}
IGNORE = ["tests/*", "*/vendor/*", "*.min.js", "*/xterm*", "*/addon-*", "migrations/*", "*/migrations/*"]


def _makemessages(package_dir: pathlib.Path) -> None:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="demo.settings", PYTHONPATH=str(ROOT))
    for domain in DOMAINS:
        args = [
            sys.executable,
            "-m",
            "django",
            "makemessages",
            "-d",
            domain,
            "--no-obsolete",
            "--no-location",
            "--no-wrap",
            "--keep-pot",
        ] + [f"--locale={lang}" for lang in LANGUAGES]
        for pattern in IGNORE:
            args += ["--ignore", pattern]
        if domain == "djangojs":
            args += ["-e", "js"]
        else:
            args += ["-e", "py,html,txt"]
        subprocess.run(args, cwd=package_dir, env=env, check=True, stdout=subprocess.DEVNULL)
        pot = package_dir / "conf" / "locale" / f"{domain}.pot"
        pot.unlink(missing_ok=True)


def _fix_headers(locale_dir: pathlib.Path) -> None:
    for lang in LANGUAGES:
        for domain in DOMAINS:
            path = locale_dir / lang / "LC_MESSAGES" / f"{domain}.po"
            if not path.exists():
                continue
            catalog = polib.pofile(str(path), wrapwidth=0)
            catalog.metadata.update(
                {
                    "Project-Id-Version": "kafaat-xblocks",
                    "Language": lang,
                    "Plural-Forms": PLURAL_FORMS[lang],
                    "Content-Type": "text/plain; charset=UTF-8",
                    "Content-Transfer-Encoding": "8bit",
                }
            )
            catalog.metadata.pop("POT-Creation-Date", None)
            catalog.metadata.pop("PO-Revision-Date", None)
            # makemessages marks nothing fuzzy on a first run; keep translators' fuzzy marks otherwise.
            catalog.save(str(path))


def _compile(locale_dir: pathlib.Path) -> None:
    for path in locale_dir.glob("*/LC_MESSAGES/*.po"):
        polib.pofile(str(path), wrapwidth=0).save_as_mofile(str(path.with_suffix(".mo")))


def _keys(path: pathlib.Path) -> set[tuple[str, str, str]]:
    if not path.exists():
        return set()
    return {(e.msgctxt or "", e.msgid, e.msgid_plural or "") for e in polib.pofile(str(path)) if not e.obsolete}


def extract() -> int:
    _makemessages(PACKAGE)
    locale_dir = PACKAGE / "conf" / "locale"
    _fix_headers(locale_dir)
    _compile(locale_dir)
    for lang in LANGUAGES:
        for domain in DOMAINS:
            path = locale_dir / lang / "LC_MESSAGES" / f"{domain}.po"
            if path.exists():
                catalog = polib.pofile(str(path))
                print(f"{lang}/{domain}: {len(catalog)} strings, {catalog.percent_translated()}% translated")
    return 0


def check() -> int:
    problems: list[str] = []
    locale_dir = PACKAGE / "conf" / "locale"
    with tempfile.TemporaryDirectory() as tmp:
        copy = pathlib.Path(tmp) / "xblocks"
        shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
        _makemessages(copy)
        for lang in LANGUAGES:
            for domain in DOMAINS:
                rel = pathlib.Path(lang, "LC_MESSAGES", f"{domain}.po")
                fresh, shipped = _keys(copy / "conf" / "locale" / rel), _keys(locale_dir / rel)
                for _ctx, msgid, _plural in sorted(fresh - shipped)[:10]:
                    problems.append(f"{rel}: not in the catalog: {msgid!r}")
                for _ctx, msgid, _plural in sorted(shipped - fresh)[:10]:
                    problems.append(f"{rel}: no longer in the code: {msgid!r}")
    for lang in LANGUAGES:
        for domain in DOMAINS:
            po_path = locale_dir / lang / "LC_MESSAGES" / f"{domain}.po"
            if not po_path.exists():
                problems.append(f"{po_path.relative_to(ROOT)} is missing")
                continue
            catalog = polib.pofile(str(po_path))
            if catalog.metadata.get("Plural-Forms") != PLURAL_FORMS[lang]:
                problems.append(f"{po_path.relative_to(ROOT)}: Plural-Forms must be {PLURAL_FORMS[lang]!r}")
            untranslated = [e.msgid for e in catalog.untranslated_entries() + catalog.fuzzy_entries()]
            for msgid in untranslated[:5]:
                problems.append(f"{po_path.relative_to(ROOT)}: untranslated: {msgid!r}")
            mo_path = po_path.with_suffix(".mo")
            if not mo_path.exists():
                problems.append(f"{mo_path.relative_to(ROOT)} is missing: run `make translations`")
                continue
            compiled = {
                (e.msgctxt or "", e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
                for e in polib.mofile(str(mo_path))
            }
            source = {
                (e.msgctxt or "", e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
                for e in catalog.translated_entries()
            }
            if compiled != source:
                problems.append(f"{mo_path.relative_to(ROOT)} is stale: run `make translations`")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"translations: {len(problems)} problem(s); run `make translations` and translate", file=sys.stderr)
        return 1
    print("translations: catalogs match the code, all strings translated, compiled catalogs fresh")
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    sys.exit({"extract": extract, "check": check}[command]())
