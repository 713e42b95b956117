"""Benchmark: a 300 MB upload to a local S3 (moto on 127.0.0.1, in its own
process) through the toolkit's pre-signed PUT and POST, against boto3's
``upload_file``, in one run.

The toolkit uploads run in a subprocess so that its peak RSS is the
upload's own; boto3 runs in this process (only its throughput matters).
Figures are printed as ratios against boto3 measured in the same run.

    .venv/bin/python benchmarks/bench_upload.py            # 300 MB
    BENCH_UPLOAD_MB=50 .venv/bin/python benchmarks/bench_upload.py

Targets: throughput >= 0.9x boto3's, client peak RSS <= 100 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZE_MB = int(os.environ.get("BENCH_UPLOAD_MB", "300"))
BUCKET = "bench-uploads"
KEY_ID, SECRET = "bench", "bench-secret"

_MOTO = """
import logging, sys
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"http://{host}:{port}", flush=True)
sys.stdin.read()  # run until the benchmark closes our stdin
server.stop()
"""


def start_moto() -> tuple[subprocess.Popen, str]:
    """moto's S3 server in a separate process (it keeps objects in memory)."""
    proc = subprocess.Popen([sys.executable, "-c", _MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    endpoint = proc.stdout.readline().strip()
    if not endpoint.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"moto did not start: {endpoint!r}")
    return proc, endpoint


def peak_rss_bytes() -> int:
    """This process's peak RSS since it started (exec'd).

    Linux's VmHWM belongs to the process image; ``ru_maxrss`` is not used
    because it keeps the high-water mark of the parent's image from before exec.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def child(spec_json: str) -> None:
    """Upload in this (fresh) process and print seconds and RSS as JSON."""
    import psutil

    from toolkit.client import ImportClient, UploadTarget

    spec = json.loads(spec_json)
    rss_before = psutil.Process().memory_info().rss
    target = UploadTarget(file_id="bench", url=spec["url"], method=spec["method"], fields=spec.get("fields") or {})
    with ImportClient("http://127.0.0.1:1", "unused", timeout=120) as client:
        started = time.perf_counter()
        receipt = client.upload(spec["path"], target, progress=True)
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "bytes": receipt.bytes,
                "attempts": receipt.attempts,
                "peak_rss_mb": peak_rss_bytes() / 2**20,
                "rss_after_imports_mb": rss_before / 2**20,
            }
        )
    )


def run_child(spec: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"toolkit upload failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import boto3
    from botocore.config import Config

    size = SIZE_MB * 1_000_000
    moto, endpoint = start_moto()
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        s3.create_bucket(Bucket=BUCKET)
        with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
            path = Path(tmp) / "upload.bin"
            with open(path, "wb") as out:
                for _ in range(SIZE_MB):
                    out.write(os.urandom(1_000_000))
            print(f"upload of {SIZE_MB} MB to moto S3 on {endpoint}")

            started = time.perf_counter()
            s3.upload_file(str(path), BUCKET, "boto3.bin")
            boto3_seconds = time.perf_counter() - started
            assert s3.head_object(Bucket=BUCKET, Key="boto3.bin")["ContentLength"] == size
            s3.delete_object(Bucket=BUCKET, Key="boto3.bin")

            put_url = s3.generate_presigned_url(
                "put_object", Params={"Bucket": BUCKET, "Key": "put.bin"}, ExpiresIn=3600
            )
            put = run_child({"method": "PUT", "url": put_url, "path": str(path)})
            assert s3.head_object(Bucket=BUCKET, Key="put.bin")["ContentLength"] == size
            s3.delete_object(Bucket=BUCKET, Key="put.bin")

            post = s3.generate_presigned_post(
                BUCKET, "post.bin", ExpiresIn=3600, Conditions=[["content-length-range", 0, 2 * size]]
            )
            posted = run_child({"method": "POST", "url": post["url"], "fields": post["fields"], "path": str(path)})
            assert s3.head_object(Bucket=BUCKET, Key="post.bin")["ContentLength"] == size
            s3.delete_object(Bucket=BUCKET, Key="post.bin")
    finally:
        moto.stdin.close()
        moto.wait(30)

    def mbps(seconds: float) -> float:
        return SIZE_MB / seconds

    print(f"{'method':<22}{'seconds':>9}{'MB/s':>9}{'vs boto3':>10}{'peak RSS MB':>13}{'RSS after imports MB':>22}")
    print(f"{'boto3 upload_file':<22}{boto3_seconds:>9.2f}{mbps(boto3_seconds):>9.1f}{1.0:>9.2f}x{'':>13}{'':>22}")
    for name, result in (("toolkit pre-signed PUT", put), ("toolkit pre-signed POST", posted)):
        ratio = boto3_seconds / result["seconds"]
        print(
            f"{name:<22}{result['seconds']:>9.2f}{mbps(result['seconds']):>9.1f}{ratio:>9.2f}x"
            f"{result['peak_rss_mb']:>13.1f}{result['rss_after_imports_mb']:>22.1f}"
        )
    worst_ratio = min(boto3_seconds / put["seconds"], boto3_seconds / posted["seconds"])
    worst_rss = max(put["peak_rss_mb"], posted["peak_rss_mb"])
    print(
        f"targets: throughput >= 0.90x boto3 -> {worst_ratio:.2f}x {'OK' if worst_ratio >= 0.9 else 'MISSED'}; "
        f"peak RSS <= 100 MB -> {worst_rss:.1f} MB {'OK' if worst_rss <= 100 else 'MISSED'}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
