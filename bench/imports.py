"""Benchmark: importing a generated COCO-format dataset of 100K annotations (time, peak memory).

    .venv/bin/python bench/imports.py --annotations 100000 --per-image 5

Writes ``--work``/annotations.json (COCO keypoints, ``--per-image`` people per image) and one
small JPEG per image, then runs ``manage.py import_dataset`` in a child process on a fresh
database (the embedded SQLite by default, or ``--database-url``) and prints the wall time per
import, annotations per second and the child's peak resident memory next to the size of the
annotation file: the file is streamed, so memory should stay well under what loading it whole
would take.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def make_set(folder: Path, annotations: int, per_image: int, size: int) -> tuple[Path, int]:
    images = (annotations + per_image - 1) // per_image
    (folder / "images").mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(0).integers(0, 255, size=(size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=80)
    jpeg = buffer.getvalue()
    rng = np.random.default_rng(1)
    with (folder / "annotations.json").open("w") as out:
        out.write('{"images": [')
        for i in range(images):
            (folder / "images" / f"{i:07d}.jpg").write_bytes(jpeg)
            out.write(("," if i else "") + json.dumps({"id": i, "file_name": f"{i:07d}.jpg", "width": size,
                                                        "height": size}))  # fmt: skip
        out.write('], "annotations": [')
        for a in range(annotations):
            points = rng.uniform(2, size - 2, size=(17, 2))
            flags = rng.choice([0, 1, 2], size=17, p=[0.2, 0.2, 0.6])
            keypoints = np.concatenate([points, flags[:, None]], axis=1).round(1).ravel().tolist()
            out.write(("," if a else "") + json.dumps({
                "id": a + 1, "image_id": a // per_image, "category_id": 1, "iscrowd": 0,
                "keypoints": keypoints, "num_keypoints": int((flags > 0).sum()),
                "bbox": [1.0, 1.0, size - 2.0, size - 2.0]}))  # fmt: skip
        out.write('], "categories": [{"id": 1, "name": "person"}]}')
    return folder / "annotations.json", images


PEAK = (
    "import atexit, resource, runpy, sys;"
    "atexit.register(lambda: print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
    " file=sys.stderr));"
    "sys.argv = ['manage.py'] + sys.argv[1:]; runpy.run_path('manage.py', run_name='__main__')"
)


def _import(python: str, env: dict[str, str], source: Path, name: str) -> tuple[float, float, str]:
    """(peak RSS MB, seconds, last output line) of one ``import_dataset`` run in a child process."""
    started = time.perf_counter()
    result = subprocess.run(
        [python, "-c", PEAK, "import_dataset", "--name", name, "--format", "coco", "--folder", str(source),
         "--annotations", "annotations.json", "--images", "images"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"import failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    peak_kb = next(
        int(line.split()[1]) for line in result.stderr.splitlines() if line.startswith("PEAK_RSS_KB")
    )
    return peak_kb / 1024, seconds, result.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--annotations", type=int, default=100_000)
    parser.add_argument("--per-image", type=int, default=5)
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-import"))
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file in --work")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    if args.work.exists():
        shutil.rmtree(args.work)
    source = args.work / "imports" / "coco-bench"
    started = time.perf_counter()
    annotation_file, images = make_set(source, args.annotations, args.per_image, args.size)
    made = time.perf_counter() - started
    size_mb = annotation_file.stat().st_size / 1e6
    print(
        f"generated {args.annotations} annotations in {images} images ({size_mb:.1f} MB JSON) in {made:.1f} s"
    )

    env = dict(os.environ, DATA_DIR=str(args.work / "data"), DATASET_IMPORT_ROOTS=str(args.work / "imports"),
               SECRET_KEY="bench-" + "x" * 60, DJANGO_DEBUG="false", CELERY_TASK_ALWAYS_EAGER="true",
               EFT_ENV_FILE="none")  # fmt: skip
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        env.pop("DATABASE_URL", None)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    # A one-person import first: the memory every import needs (Python, Django, numpy, PIL...).
    tiny = args.work / "imports" / "coco-tiny"
    make_set(tiny, 1, 1, args.size)
    baseline_mb, _, _ = _import(python, env, tiny, "coco-tiny")
    peak_mb, seconds, output = _import(python, env, source, "coco-bench")
    print(output)
    # For scale: what json.load of the same file alone adds to a process.
    probe = (
        "import json, resource, sys; before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
        "data = json.load(open(sys.argv[1]));"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)"
    )
    loaded = subprocess.run(
        [python, "-c", probe, str(annotation_file)], capture_output=True, text=True, check=True
    )
    json_load_mb = float(loaded.stdout.strip())
    figures = {
        "annotations": args.annotations,
        "images": images,
        "json_mb": round(size_mb, 1),
        "import_seconds": round(seconds, 1),
        "annotations_per_s": round(args.annotations / seconds, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "baseline_rss_mb": round(baseline_mb, 1),
        "growth_mb": round(peak_mb - baseline_mb, 1),
        "growth_over_json": round((peak_mb - baseline_mb) / size_mb, 2),
        "json_load_growth_mb": round(json_load_mb, 1),
        "database": "postgresql" if args.database_url.startswith("postgres") else "sqlite",
        "note": "peak RSS of the import process; baseline: the same import of one person",
    }
    print(
        f"import: {seconds:.1f} s, {figures['annotations_per_s']} annotations/s; peak memory "
        f"{peak_mb:.0f} MB = {baseline_mb:.0f} MB baseline + {peak_mb - baseline_mb:.0f} MB growth for a "
        f"{size_mb:.0f} MB annotation file (growth / file size: {figures['growth_over_json']})"
    )
    print(f"for scale: json.load of that file alone grows a process by {json_load_mb:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
