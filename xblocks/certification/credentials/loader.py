"""The offline JSON-LD document loader: serves the contexts shipped in ``contexts/`` and refuses every other URL.

Canonicalisation must never touch the network: a remote context could change the meaning of a signed
document after the fact, and the project's machines (and many verifiers) have no internet access.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from pyld import jsonld

# Context URL -> file in ``contexts/`` (copied byte for byte; see docs/credentials.md for sources and hashes).
CONTEXT_FILES: dict[str, str] = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-context-3.0.3.json",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
    "https://www.w3.org/ns/cid/v1": "cid-v1.jsonld",
}

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
# Controlled Identifiers 1.0: defines verificationMethod, assertionMethod, Multikey and JsonWebKey, which
# a controller document (the issuer document) needs defined for verifiers that process it as JSON-LD.
CID_V1 = "https://www.w3.org/ns/cid/v1"


class ContextRefused(jsonld.JsonLdError):
    """A document asked for a context this loader does not ship."""


@cache
def _context(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("contexts", name).read_text(encoding="utf-8")
    return json.loads(text)


def context_document(url: str) -> dict[str, Any]:
    """The parsed context shipped for ``url`` (a copy, so callers cannot alter the cache)."""
    name = CONTEXT_FILES.get(url)
    if name is None:
        raise ContextRefused(
            f"context {url!r} is not shipped with Kafaat; remote contexts are refused",
            "jsonld.LoadDocumentError",
            {"url": url},
            code="loading document failed",
        )
    return copy.deepcopy(_context(name))


def document_loader(url: str, options: dict | None = None) -> dict[str, Any]:
    """pyld document loader: the ``RemoteDocument`` shape pyld expects, or ``ContextRefused``."""
    return {"contextUrl": None, "documentUrl": url, "document": context_document(url)}


class UndefinedTerm(jsonld.JsonLdError):
    """A property or type the document's contexts do not define (it would silently escape the signature)."""


def _refuse_dropped(term: str | None) -> None:
    if isinstance(term, str):
        term = term.removeprefix(_SENTINEL_BASE)
    raise UndefinedTerm(
        f"term {term!r} is not defined by the document's contexts", "kafaat.UndefinedTerm", {"term": term}
    )


# Relative IRIs resolve against this base during the strict expansion, which makes them easy to spot.
_SENTINEL_BASE = "https://relative-iri.kafaat.invalid/"


def _check_types(node: Any) -> None:
    """Every ``@type`` and ``@id`` must be absolute; toRdf drops relative ones, unsigned (safe mode refuses them)."""
    if isinstance(node, list):
        for item in node:
            _check_types(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "@type" and "@value" not in node:
                for kind in value if isinstance(value, list) else [value]:
                    if not isinstance(kind, str) or kind.startswith(_SENTINEL_BASE) or ":" not in kind:
                        _refuse_dropped(kind)
            elif key == "@id":
                if not isinstance(value, str) or value.startswith(_SENTINEL_BASE):
                    _refuse_dropped(value)
            elif key != "@value":
                _check_types(value)


def canonicalize(document: dict[str, Any], *, strict: bool = True) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document, resolved through the offline loader only.

    pyld 3.3 knows RDFC-1.0 by its older name URDNA2015 (identical output for these documents) and
    rejects the new name. ``strict`` (the "safe mode" of VC Data Integrity) refuses terms and types the
    contexts do not define: JSON-LD drops them silently, so without this check anyone could add claims to
    a signed credential without breaking its proof.
    """
    options = {"documentLoader": document_loader, "processingMode": "json-ld-1.1"}
    if strict:
        try:
            expanded = jsonld.JsonLdProcessor(on_property_dropped=_refuse_dropped).expand(
                document, {**options, "base": _SENTINEL_BASE}
            )
        except jsonld.JsonLdError as error:
            raise _root_cause(error) from None
        _check_types(expanded)
        # Normalising the expanded form skips a second context resolution (about 5x cheaper); nothing
        # relative is left in it, so the sentinel base cannot leak into the output.
        document = expanded
    return jsonld.JsonLdProcessor().normalize(
        document, {**options, "algorithm": "URDNA2015", "format": "application/n-quads"}
    )


def _root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None and isinstance(error.__cause__, jsonld.JsonLdError):
        error = error.__cause__
    return error
