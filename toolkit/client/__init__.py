"""The import client: one call from a file to a finished import, and each step.

    >>> from toolkit.client import ImportClient
    >>> client = ImportClient("http://127.0.0.1:8000", "key", api="imports")
    >>> client.api
    'imports'
    >>> client.close()

The client takes its settings as arguments (``ImportClient.from_env`` reads
``TOOLKIT_API_URL`` / ``TOOLKIT_API_KEY`` / ``TOOLKIT_API``). It never
imports the service: ``toolkit.import_file`` and the embedded local service
live in :mod:`toolkit.local`, above both. See ``docs/client.md``.
"""

from toolkit.client.api import ImportClient
from toolkit.client.http import RetryPolicy
from toolkit.client.options import ImportKeywords, ImportOptions
from toolkit.client.pipeline import run_import
from toolkit.client.result import ImportRecord, ImportResult
from toolkit.client.upload import UploadReceipt, UploadTarget

__all__ = [
    "ImportClient",
    "ImportOptions",
    "ImportKeywords",
    "ImportResult",
    "ImportRecord",
    "UploadTarget",
    "UploadReceipt",
    "RetryPolicy",
    "run_import",
]
