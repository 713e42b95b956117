"""The import client: one call from a file to a finished import, and each step.

    >>> from toolkit.client import ImportClient
    >>> client = ImportClient("http://127.0.0.1:8000", "key", api="imports")
    >>> client.api
    'imports'
    >>> client.close()

``toolkit.import_file(path, workspace=...)`` uses ``TOOLKIT_API_URL`` /
``TOOLKIT_API_KEY`` / ``TOOLKIT_API``, or an embedded service when no URL is
configured. See ``docs/client.md``.
"""

from toolkit.client.api import ImportClient
from toolkit.client.embedded import client_for, import_file, shared_local_service
from toolkit.client.http import RetryPolicy
from toolkit.client.result import ImportRecord, ImportResult
from toolkit.client.upload import UploadReceipt, UploadTarget

__all__ = [
    "ImportClient",
    "ImportResult",
    "ImportRecord",
    "UploadTarget",
    "UploadReceipt",
    "RetryPolicy",
    "import_file",
    "client_for",
    "shared_local_service",
]
