"""The seed documents' own client code, run unchanged against a real uvicorn
server: the imports API's curl commands (seed 003, with their JSON braces
repaired) through ``curl`` itself, and the portal's axios upload snippet
(seed 000, verbatim in ``tests/node/seed_000_upload.js``; only its two
placeholder strings are replaced) under ``node``.

The axios test needs node and ``npm ci --prefix tests/node`` (``.ci/run``
does that when node is present); without them it is skipped, saying why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import os
import pytest

from conftest import make_cc5

NODE_DIR = Path(__file__).parent / "node"
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def _curl(*args: str) -> str:
    done = subprocess.run(["curl", "--silent", "--show-error", *args], capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout


@needs_curl
def test_the_imports_seed_curl_commands_reach_finished(live_service: Any, tmp_path: Path) -> None:
    base, key = live_service.url, live_service.api_key
    stream = f"seed-{uuid.uuid4().hex[:8]}"
    started = int(time.time()) - 1
    ids = []
    for n in range(2):
        path = make_cc5(tmp_path, rows=6 + n, workspace=stream, bad_rows=1, name=f"file_you_want_to_upload_{n}.cc5txt")
        created = json.loads(_curl(
            "--request", "POST",
            "--url", f"{base}/v1/imports/pre-signed-url/create",
            "--header", "accept: application/json",
            "--header", "content-type: application/json",
            "--header", f"u21-key: {key}",
            "--data", json.dumps({"stream_name": stream, "file_name": path.name})))
        fields = created["fields"]
        # The seed's upload command, with the values of the create response.
        status = _curl(
            "--output", "/dev/null", "--write-out", "%{http_code}",
            "--request", "POST",
            "--url", created["url"],
            "--header", "content-type: multipart/form-data",
            "--form", f"key={fields['key']}",
            "--form", f"AWSAccessKeyId={fields['AWSAccessKeyId']}",
            "--form", f"policy={fields['policy']}",
            "--form", f"signature={fields['signature']}",
            "--form", f"file=@{path}")
        assert status == "204"
        ids.append(created["file_id"])
    for n, file_id in enumerate(ids):
        deadline = time.time() + 120
        while True:
            record = json.loads(_curl(
                "--request", "GET",
                "--url", f"{base}/v1/imports/{file_id}",
                "--header", "accept: application/json",
                "--header", f"u21-key: {key}"))
            if record["status"] in ("FINISHED", "FAILED") or time.time() > deadline:
                break
            time.sleep(0.2)
        assert (record["status"], record["successful_count"], record["failure_count"]) == ("FINISHED", 6 + n, 1)
    listed = json.loads(_curl(
        "--request", "POST",
        "--url", f"{base}/v1/imports/list",
        "--header", "accept: application/json",
        "--header", "content-type: application/json",
        "--header", f"u21-key: {key}",
        "--data", json.dumps({"created_after": started, "created_before": int(time.time()) + 1,
                              "statuses": ["QUEUED", "FINISHED"], "stream_names": [stream, "stream2"],
                              "offset": 1, "limit": 1000})))
    assert listed["count"] == 2 and [f["file_id"] for f in listed["files"]] == [ids[0]]  # newest first


def test_the_portal_seed_put_with_x_api_key_reaches_finished(live_service: Any, tmp_path: Path) -> None:
    base, headers = live_service.url, {"x-api-key": live_service.api_key}
    workspace = f"seed-{uuid.uuid4().hex[:8]}"
    path = make_cc5(tmp_path, rows=5, workspace=workspace)
    data = httpx.post(f"{base}/appfile/file/path", headers=headers, timeout=30, json={
        "WorkspaceId": workspace, "BucketId": "bk", "EntityType": "customer", "FileName": path.name}).json()["Data"]
    with path.open("rb") as stream:  # what axios.put(signedUrl, fs.createReadStream(file), octet-stream) sends
        assert httpx.put(data["Url"], content=stream.read(), timeout=30,
                         headers={"Content-Type": "application/octet-stream"}).status_code == 200
    done = httpx.post(f"{base}/appfile/file/import", headers=headers, timeout=120,
                      json={"FileType": "cc5", "FileId": data["FileId"], "FilePath": data["FilePath"]}).json()
    assert done["IsSuccess"] is True and done["Data"]["File"]["Status"] == "FINISHED"
    assert done["Data"]["File"]["SuccessfulCount"] == 5


@pytest.mark.skipif(shutil.which("node") is None or not (NODE_DIR / "node_modules" / "axios").is_dir(),
                    reason="node or axios is not installed (npm ci --prefix tests/node)")
def test_the_portal_seed_axios_snippet_uploads_and_the_import_finishes(live_service: Any, tmp_path: Path) -> None:
    base, headers = live_service.url, {"x-api-key": live_service.api_key}
    workspace = f"seed-{uuid.uuid4().hex[:8]}"
    path = make_cc5(tmp_path, rows=7, workspace=workspace, bad_rows=2)
    data = httpx.post(f"{base}/appfile/file/path", headers=headers, timeout=30, json={
        "WorkspaceId": workspace, "BucketId": "bk", "EntityType": "customer", "FileName": path.name}).json()["Data"]
    snippet = (NODE_DIR / "seed_000_upload.js").read_text(encoding="utf-8")
    script = tmp_path / "upload.js"
    script.write_text(snippet.replace('"your-signed-url-here"', json.dumps(data["Url"]))
                      .replace('"path-to-your-file"', json.dumps(str(path))), encoding="utf-8")
    done = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NODE_PATH": str(NODE_DIR / "node_modules")})
    assert "File uploaded successfully: 200" in done.stdout, done.stdout + done.stderr
    answer = httpx.post(f"{base}/appfile/file/import", headers=headers, timeout=120,
                        json={"FileType": "cc5", "FileId": data["FileId"]}).json()
    file = answer["Data"]["File"]
    assert (file["Status"], file["SuccessfulCount"], file["FailureCount"]) == ("FINISHED", 7, 2)
    assert file["Size"] == path.stat().st_size
