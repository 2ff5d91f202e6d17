"""Translation catalogs: ``extract`` updates the French and Arabic catalogs and compiles them;
``check`` fails when extracting strings would change a catalog, when a compiled catalog is stale,
or when a plural header is wrong (Arabic has six forms).

Where the catalogs live, and who reads them:

- each app's ``locale/<lang>/LC_MESSAGES/{django,djangojs}.po`` (+ ``.mo``), holding the strings of that
  app's own files: Django finds an installed app's ``locale/`` folder by itself, so the LMS and Studio
  need no ``LOCALE_PATHS`` entry (which their plugin settings could not even read: it is derived later);
- ``xblocks/translations/<lang>/LC_MESSAGES/text.po`` (+ ``.mo``), every app's Python strings merged: the
  XBlock runtime's i18n service (edx-platform's ``XBlockI18nService``) looks there, under the block's
  root package, for the ``text`` domain. It is generated from the apps' catalogs; translate those.

Translations are carried over by message (context, id, plural): a string that moves to another app keeps
its translation, and catalogs still in the former single folder (``xblocks/conf/locale``, e.g. from a
branch merged later) are read once, carried into the apps' catalogs and removed by ``extract``.
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
# The apps (folders under xblocks/) and the sub-apps inside them whose files are theirs, not the parent's.
# makemessages matches "x/*" against every folder named x, so no other folder of an app may bear a sub-app's name.
APPS = {
    "labs": ["terminal/*"],
    "labs/terminal": [],
    "certification": ["credentials/*", "exports/*"],
    "certification/credentials": [],
    "certification/exports": [],
    "partnership": [],
}
IGNORE = ["tests/*", "*/vendor/*", "*.min.js", "*/xterm*", "*/addon-*", "migrations/*", "*/migrations/*", "locale/*"]
LEGACY = PACKAGE / "conf" / "locale"
XBLOCK_DOMAIN = "text"


def xblock_catalog_dir(package: pathlib.Path = PACKAGE) -> pathlib.Path:
    return package / "translations"


def _makemessages(app_dir: pathlib.Path, ignores: list[str]) -> None:
    # Django's own defaults: extraction needs no apps, and the demo settings would load Celery, whose
    # Django fixup puts the working directory (an app folder) first on sys.path.
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="django.conf.global_settings", PYTHONPATH=str(ROOT))
    (app_dir / "locale").mkdir(exist_ok=True)  # makemessages run inside an app writes to its locale/
    for domain in DOMAINS:
        args = [
            sys.executable,
            "-P",  # run in the app's folder without importing its modules as top-level ones (numbers.py)
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
        for pattern in IGNORE + ignores:
            args += ["--ignore", pattern]
        args += ["-e", "js"] if domain == "djangojs" else ["-e", "py,html,txt"]
        subprocess.run(args, cwd=app_dir, env=env, check=True, stdout=subprocess.DEVNULL)
        (app_dir / "locale" / f"{domain}.pot").unlink(missing_ok=True)
    for lang in LANGUAGES:  # an app without strings of one domain needs no empty catalog for it
        for domain in DOMAINS:
            path = app_dir / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"
            if path.exists() and not [e for e in polib.pofile(str(path)) if not e.obsolete]:
                path.unlink()


def _key(entry) -> tuple[str, str, str]:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def _memory(package: pathlib.Path, lang: str, domain: str) -> dict[tuple[str, str, str], polib.POEntry]:
    """Every translated message of ``lang``/``domain`` anywhere in the package (apps' and legacy catalogs)."""
    found: dict[tuple[str, str, str], polib.POEntry] = {}
    for path in sorted(package.rglob(f"{lang}/LC_MESSAGES/{domain}.po")):
        for entry in polib.pofile(str(path)):
            if entry.translated() and not entry.obsolete:
                found.setdefault(_key(entry), entry)
    return found


def _fill(path: pathlib.Path, lang: str, memory: dict) -> None:
    catalog = polib.pofile(str(path), wrapwidth=0)
    for entry in catalog:
        known = memory.get(_key(entry))
        if known is not None and not entry.translated():
            entry.msgstr = known.msgstr
            entry.msgstr_plural = dict(known.msgstr_plural)
            if "fuzzy" in entry.flags and "fuzzy" not in known.flags:
                entry.flags.remove("fuzzy")
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
    catalog.save(str(path))


def _app_catalogs(package: pathlib.Path, lang: str, domain: str) -> list[pathlib.Path]:
    return [
        package / app / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"
        for app in APPS
        if (package / app / "locale" / lang / "LC_MESSAGES" / f"{domain}.po").exists()
    ]


def _xblock_catalog(package: pathlib.Path, lang: str) -> polib.POFile:
    """The ``text`` catalog of the XBlock i18n service: every app's Python strings, translated as there."""
    merged = polib.POFile(wrapwidth=0)
    merged.metadata = {
        "Project-Id-Version": "kafaat-xblocks",
        "Language": lang,
        "Plural-Forms": PLURAL_FORMS[lang],
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
    }
    seen = set()
    for path in _app_catalogs(package, lang, "django"):
        for entry in polib.pofile(str(path)):
            if entry.obsolete or _key(entry) in seen:
                continue
            seen.add(_key(entry))
            merged.append(entry)
    merged.sort(key=_key)
    return merged


def _compile(path: pathlib.Path) -> None:
    polib.pofile(str(path), wrapwidth=0).save_as_mofile(str(path.with_suffix(".mo")))


def extract_into(package: pathlib.Path) -> None:
    memories = {(lang, domain): _memory(package, lang, domain) for lang in LANGUAGES for domain in DOMAINS}
    for app, ignores in APPS.items():
        _makemessages(package / app, ignores)
    for (lang, domain), memory in memories.items():
        for path in _app_catalogs(package, lang, domain):
            _fill(path, lang, memory)
    for lang in LANGUAGES:
        target = xblock_catalog_dir(package) / lang / "LC_MESSAGES" / f"{XBLOCK_DOMAIN}.po"
        target.parent.mkdir(parents=True, exist_ok=True)
        _xblock_catalog(package, lang).save(str(target))
    legacy = package / "conf" / "locale"
    if legacy.exists():
        shutil.rmtree(legacy)
        if not any((package / "conf").iterdir()):
            (package / "conf").rmdir()


def _all_catalogs(package: pathlib.Path) -> list[pathlib.Path]:
    paths = [p for lang in LANGUAGES for domain in DOMAINS for p in _app_catalogs(package, lang, domain)]
    paths += [xblock_catalog_dir(package) / lang / "LC_MESSAGES" / f"{XBLOCK_DOMAIN}.po" for lang in LANGUAGES]
    return paths


def extract() -> int:
    if LEGACY.exists():
        print(f"carrying the translations of {LEGACY.relative_to(ROOT)} into the apps' catalogs")
    extract_into(PACKAGE)
    for path in _all_catalogs(PACKAGE):
        _compile(path)
        catalog = polib.pofile(str(path))
        print(f"{path.relative_to(ROOT)}: {len(catalog)} strings, {catalog.percent_translated()}% translated")
    return 0


def _compiled_matches(po_path: pathlib.Path) -> bool:
    catalog = polib.pofile(str(po_path))
    mo_path = po_path.with_suffix(".mo")
    compiled = {
        (e.msgctxt or "", e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
        for e in polib.mofile(str(mo_path))
    }
    source = {
        (e.msgctxt or "", e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
        for e in catalog.translated_entries()
    }
    return compiled == source


def check() -> int:
    problems: list[str] = []
    if LEGACY.exists():
        problems.append(f"{LEGACY.relative_to(ROOT)} still holds catalogs: run `make translations` to carry them over")
    with tempfile.TemporaryDirectory() as tmp:
        copy = pathlib.Path(tmp) / "xblocks"
        shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
        extract_into(copy)
        fresh = {p.relative_to(copy): p for p in _all_catalogs(copy)}
        shipped = {p.relative_to(PACKAGE): p for p in _all_catalogs(PACKAGE)}
        for rel in sorted(set(fresh) - set(shipped)):
            problems.append(f"xblocks/{rel} is missing: run `make translations`")
        for rel in sorted(set(fresh) & set(shipped)):
            new = {_key(e) for e in polib.pofile(str(fresh[rel])) if not e.obsolete}
            old = {_key(e) for e in polib.pofile(str(shipped[rel])) if not e.obsolete}
            for _ctx, msgid, _plural in sorted(new - old)[:10]:
                problems.append(f"xblocks/{rel}: not in the catalog: {msgid!r}")
            for _ctx, msgid, _plural in sorted(old - new)[:10]:
                problems.append(f"xblocks/{rel}: no longer in the code: {msgid!r}")
            if rel.parts[0] == "translations":
                fresh_text = {_key(e): (e.msgstr, e.msgstr_plural) for e in polib.pofile(str(fresh[rel]))}
                shipped_text = {_key(e): (e.msgstr, e.msgstr_plural) for e in polib.pofile(str(shipped[rel]))}
                if fresh_text != shipped_text and not problems:
                    problems.append(f"xblocks/{rel} differs from the apps' catalogs: run `make translations`")
    for po_path in _all_catalogs(PACKAGE):
        rel = po_path.relative_to(ROOT)
        if not po_path.exists():
            continue
        lang = po_path.parts[-3]
        catalog = polib.pofile(str(po_path))
        if catalog.metadata.get("Plural-Forms") != PLURAL_FORMS[lang]:
            problems.append(f"{rel}: Plural-Forms must be {PLURAL_FORMS[lang]!r}")
        for msgid in [e.msgid for e in catalog.untranslated_entries() + catalog.fuzzy_entries()][:5]:
            problems.append(f"{rel}: untranslated: {msgid!r}")
        if not po_path.with_suffix(".mo").exists():
            problems.append(f"{rel.with_suffix('.mo')} is missing: run `make translations`")
        elif not _compiled_matches(po_path):
            problems.append(f"{rel.with_suffix('.mo')} is stale: run `make translations`")
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
