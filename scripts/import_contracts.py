"""Two import-linter contract types the built-in ones cannot say, used by ``.importlinter`` (``make quality``).

``doors``: an app is entered only through its doors. Every module belongs to the innermost app package
that holds it; an import that crosses from one app into another must name one of the other app's doors
(``api``, ``data``, ``signals``) or one of the shared ``engines``. Modules outside every app (``core``,
the ``kafaat`` dispatcher) are left to the layers contract.

``standard_library_only``: the listed modules import nothing but the standard library, so the frozen
values apps hand each other never drag a framework along. (Run with ``include_external_packages``.)
"""

from __future__ import annotations

import sys

from importlinter import Contract, ContractCheck, fields, output
from importlinter.domain.helpers import module_expressions_to_modules


def _app_of(module: str, apps: list[str]) -> str | None:
    """The innermost app package holding ``module`` (None when it is in no app)."""
    holders = [app for app in apps if module == app or module.startswith(app + ".")]
    return max(holders, key=len) if holders else None


class DoorsContract(Contract):
    """Imports between apps go through the imported app's doors only."""

    type_name = "doors"

    apps = fields.ListField(subfield=fields.StringField())
    doors = fields.ListField(subfield=fields.StringField())
    engines = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph, verbose: bool) -> ContractCheck:
        apps = [str(app) for app in self.apps]  # type: ignore[attr-defined]
        doors = {str(door) for door in self.doors}  # type: ignore[attr-defined]
        engines = [str(engine) for engine in (self.engines or [])]  # type: ignore[attr-defined]
        broken = []
        for importer in sorted(graph.modules):
            source = _app_of(importer, apps)
            if source is None:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                target = _app_of(imported, apps)
                if target is None or target == source:
                    continue
                if imported == target or imported in {f"{target}.{door}" for door in doors}:
                    continue
                if any(imported == engine or imported.startswith(engine + ".") for engine in engines):
                    continue
                lines = graph.get_import_details(importer=importer, imported=imported)
                broken.append((importer, imported, [detail["line_number"] for detail in lines]))
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, lines in check.metadata["broken"]:
            where = ", ".join(f"l.{line}" for line in lines)
            output.print_error(f"{importer} -> {imported} ({where}): not one of the app's doors", bold=False)
            output.new_line()


class StandardLibraryOnlyContract(Contract):
    """The source modules import only standard-library modules."""

    type_name = "standard_library_only"

    source_modules = fields.ListField(subfield=fields.ModuleExpressionField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        sources = module_expressions_to_modules(graph, self.source_modules)  # type: ignore[arg-type]
        broken = []
        for source in sorted(sources, key=lambda module: module.name):
            for imported in sorted(graph.find_modules_directly_imported_by(source.name)):
                if imported.split(".")[0] not in sys.stdlib_module_names:
                    broken.append((source.name, imported))
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for source, imported in check.metadata["broken"]:
            output.print_error(f"{source} imports {imported}, which is not the standard library", bold=False)
            output.new_line()
