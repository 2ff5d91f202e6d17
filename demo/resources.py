"""The demo's XBlock resource view: the workbench's own, with the caching a production static server adds.

In the LMS, block resources are collected static files with hashed names and far-future caching; the
workbench serves them from the package with no caching headers, so every page load fetched xterm.js
again. Here they carry an ETag (the content's digest) and may be reused for an hour, then revalidated.
"""

from __future__ import annotations

import hashlib

from django.utils.cache import get_conditional_response, patch_cache_control
from workbench import views as workbench_views

MAX_AGE = 3600


def package_resource(request, block_type, resource):
    response = workbench_views.package_resource(request, block_type, resource)
    etag = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=MAX_AGE)
    return get_conditional_response(request, etag=etag, response=response)
