"""Benchmark: prints figures, asserts nothing (speed is measured here, not in tests).

In one run on this machine:
  1. Rasa training time of Wegwijs (into a temporary folder; the real model is untouched);
  2. fastText language-ID cost per message (µs) on held-out sentences;
  3. REST webhook latency p50/p95 over N messages for Wegwijs, and for a bare
     ``rasa init`` project trained in a temporary folder;
  4. resident memory (RSS) of the Rasa server and the action server.

Usage:  .venv/bin/python scripts/bench.py [--messages 240] [--skip-train] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wegwijs.build import RASA_MODEL, rasa_bin, rasa_env, training_data_paths  # noqa: E402
from wegwijs.serve import _wait_http, free_port, running  # noqa: E402
from wegwijs.settings import Settings  # noqa: E402

# A conversation per language, repeated over many senders (each sender = new tracker).
SCRIPTS = {
    "nl": ["hallo", "ja", "ja akkoord", "2 kinderen van 3 en 8", "Utrecht", "mijn zoon wil niet naar school", "nee dank je"],
    "en": ["hi", "yes", "i agree", "two kids 5 and 11", "Tilburg", "my daughter is sad and does not sleep", "no thanks"],
    "ar": ["مرحبا", "نعم", "موافق", "عندي ولدين ٤ و ٩", "روتردام", "ابني ما بدو يروح على المدرسة", "لا شكرا"],
    "ti": ["ሰላም", "እወ", "ይሰማማዕ", "ክልተ ቆልዑ 4 ን 9", "Utrecht", "ወደይ ናብ ቤት ትምህርቲ ክኸይድ ኣይደልን", "ኣይፋል የቐንየለይ"],
}


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` plus its children, in MiB (from /proc)."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(p) for p in out]
    except FileNotFoundError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def post(url: str, body: dict) -> tuple[float, int]:
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
        status = r.status
    return (time.perf_counter() - t0) * 1000, status


def drive(base_url: str, n: int, scripts: dict[str, list[str]], tag: str) -> list[float]:
    """Send ``n`` messages round-robin over the scripted conversations; return latencies (ms)."""
    lat: list[float] = []
    sender = 0
    while len(lat) < n:
        for lang, msgs in scripts.items():
            sid = f"bench-{tag}-{lang}-{sender}"
            for m in msgs:
                ms, status = post(f"{base_url}/webhooks/rest/webhook", {"sender": sid, "message": m})
                if status != 200:
                    raise RuntimeError(f"HTTP {status}")
                lat.append(ms)
                if len(lat) >= n:
                    return lat
        sender += 1
    return lat


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def bench_training(tmp: Path) -> float:
    """Cold training time: an empty Rasa training cache, so nothing is reused."""
    env = rasa_env()
    env["RASA_CACHE_DIRECTORY"] = str(tmp / "rasa-cache")
    t0 = time.monotonic()
    subprocess.run(
        [rasa_bin(), "train", "--config", "config.yml", "--domain", "bot", "--data", *training_data_paths(),
         "--out", str(tmp / "models"), "--fixed-model-name", "bench"],
        cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - t0


def bench_lid() -> tuple[float, int]:
    from wegwijs.lid.data import build_datasets
    from wegwijs.lid.detector import LanguageDetector
    from wegwijs.lid.train import DEFAULT_MODEL_PATH

    det = LanguageDetector.load(DEFAULT_MODEL_PATH)
    _, heldout = build_datasets()
    texts = [t for _, t in heldout][:5000]
    for t in texts[:200]:
        det.detect(t)  # warm up
    t0 = time.perf_counter()
    for t in texts:
        det.detect(t)
    return (time.perf_counter() - t0) / len(texts) * 1e6, len(texts)


def bench_baseline(tmp: Path, n: int) -> tuple[list[float], float, float]:
    """Latency and RSS of a bare `rasa init` project (its own model, REST channel)."""
    proj = tmp / "baseline"
    proj.mkdir()  # `rasa init --init-dir` needs the folder to exist
    env = rasa_env()
    t0 = time.monotonic()
    subprocess.run([rasa_bin(), "init", "--no-prompt", "--init-dir", str(proj)], cwd=tmp, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    train_s = time.monotonic() - t0
    log = tmp / "baseline.log"
    port = free_port()
    proc = subprocess.Popen([rasa_bin(), "run", "--enable-api", "--port", str(port)], cwd=proj, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        _wait_http(f"http://127.0.0.1:{port}/status", proc, 300, log,
                   ok=lambda b: bool(json.loads(b or b"{}").get("model_file")))
        en = {"en": ["hello", "I am sad", "yes", "no", "goodbye", "are you a bot?", "great"]}
        lat = drive(f"http://127.0.0.1:{port}", n, en, "base")
        return lat, rss_mb(proc.pid), train_s
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=240)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []

    class Rows(list):  # print each figure as soon as it is measured
        def append(self, row: tuple[str, str]) -> None:
            print(f"  {row[0]}: {row[1]}", flush=True)
            super().append(row)

    rows = Rows()
    with tempfile.TemporaryDirectory(prefix="wegwijs-bench-") as d:
        tmp = Path(d)
        if not args.skip_train:
            rows.append(("Wegwijs `rasa train`, cold cache (s)", f"{bench_training(tmp):.0f}"))
        us, count = bench_lid()
        rows.append((f"LID per message (µs, {count} held-out sentences)", f"{us:.0f}"))
        settings = Settings(database_url=f"sqlite:///{tmp / 'w.db'}", tracker_db_url=f"sqlite:///{tmp / 't.db'}")
        from wegwijs.db.migrate import upgrade

        upgrade(settings.database_url)
        t0 = time.monotonic()
        with running(settings=settings, rasa_port=free_port(), action_port=free_port(), extra_env={
            "WEGWIJS_DATABASE_URL": settings.database_url, "WEGWIJS_TRACKER_DB_URL": settings.tracker_db_url}) as s:
            rows.append(("Wegwijs start-up until ready (s)", f"{time.monotonic() - t0:.0f}"))
            lat = drive(s.rasa_url, args.messages, SCRIPTS, "ww")
            rows.append((f"Wegwijs REST p50 / p95 (ms, {len(lat)} msgs)", f"{pct(lat, 50):.0f} / {pct(lat, 95):.0f}"))
            rows.append(("Wegwijs RSS Rasa server / action server (MiB)",
                         f"{rss_mb(s.procs[1].pid):.0f} / {rss_mb(s.procs[0].pid):.0f}"))
        if not args.skip_baseline:
            blat, brss, btrain = bench_baseline(tmp, args.messages)
            rows.append(("bare `rasa init` init+train (s)", f"{btrain:.0f}"))
            rows.append((f"bare `rasa init` REST p50 / p95 (ms, {len(blat)} msgs)", f"{pct(blat, 50):.0f} / {pct(blat, 95):.0f}"))
            rows.append(("bare `rasa init` RSS Rasa server (MiB)", f"{brss:.0f}"))
    print(f"\nWegwijs benchmark — {time.strftime('%Y-%m-%d %H:%M')} — {os.cpu_count()} cores, model {RASA_MODEL.name}")
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k.ljust(width)}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
