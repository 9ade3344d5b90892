"""GPU prices and serving throughput for the TCO comparison, each figure with where it comes from.

Three kinds of figures, labelled as such in ``source``:

- *seed*: prices quoted in the economics issue's worked examples (H100 and A100 purchase and rental);
- *datasheet*: NVIDIA's published specifications (memory bandwidth, dense BF16 tensor throughput, board
  power), used to scale measurements from one GPU to another;
- *measured*: decode and prefill tokens/s measured on one H200 (bf16, plain PyTorch, CUDA graphs; see
  ``shared/data/README.md``, section throughput/). When the measurement file is present (beside the
  project in ``shared/data/throughput/``, or given with ``--throughput-file``) it is read at the batch
  size asked for; the built-in copy below holds the batch-64 figures.

H100 and A100 throughput is *derived*: decode is memory-bound (tokens/s scale with HBM bandwidth),
prefill compute-bound (scale with dense BF16 TFLOPS). A serving engine with FP8 or speculative decoding
does better; ``--measured-tps`` overrides the catalog with your own number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ConfigError

MEASURED_FILE = "h200_dense_bf16.json"
DEFAULT_BATCH = 64  # an interactive serving point: ~10 ms per decode step for the 8B shape on an H200


@dataclass(frozen=True, slots=True)
class GpuSpec:
    name: str
    capex_usd: float | None  # purchase price of one GPU (its share of the server), None when unknown
    rent_usd_per_hour: float | None
    watts: float  # board power at full load
    hbm_tb_per_s: float
    bf16_dense_tflops: float
    memory_gb: float
    source: str


@dataclass(frozen=True, slots=True)
class Throughput:
    """Tokens per second one GPU sustains for a model class."""

    gpu: str
    model_class: str
    decode_tps: float  # output tokens/s (all concurrent streams together)
    prefill_tps: float  # input tokens/s
    source: str

    def gpu_seconds(self, input_tokens: float, output_tokens: float) -> float:
        return input_tokens / self.prefill_tps + output_tokens / self.decode_tps


_NVIDIA = "NVIDIA datasheet ({url})"
GPUS: dict[str, GpuSpec] = {
    "h100": GpuSpec(
        "h100",
        capex_usd=27_500,
        rent_usd_per_hour=2.85,
        watts=700,
        hbm_tb_per_s=3.35,
        bf16_dense_tflops=989,
        memory_gb=80,
        source="prices: seed figures of the economics issue; specs (SXM): "
        + _NVIDIA.format(url="https://www.nvidia.com/en-us/data-center/h100/"),
    ),
    "a100": GpuSpec(
        "a100",
        capex_usd=12_000,
        rent_usd_per_hour=1.64,
        watts=400,
        hbm_tb_per_s=2.039,
        bf16_dense_tflops=312,
        memory_gb=80,
        source="prices: seed figures of the economics issue; specs (80GB SXM): "
        + _NVIDIA.format(url="https://www.nvidia.com/en-us/data-center/a100/"),
    ),
    "h200": GpuSpec(
        "h200",
        capex_usd=None,
        rent_usd_per_hour=3.50,
        watts=700,
        hbm_tb_per_s=4.8,
        bf16_dense_tflops=989,
        memory_gb=141,
        source="rent: the example in shared/data/README.md (no purchase price cited: pass --capex); specs (SXM): "
        + _NVIDIA.format(url="https://www.nvidia.com/en-us/data-center/h200/"),
    ),
}

# Built-in copy of the H200 measurement at batch 64 (decode) and 4 x 2,048-token prompts (prefill).
_H200_SOURCE = (
    "measured on one NVIDIA H200, bf16, PyTorch 2.11, 2026-11-26 (shared/data/throughput/h200_dense_bf16.json)"
)
MODEL_SHAPES = {"8b": "llama-3.1-8b", "32b": "qwen2.5-32b"}
_BUILTIN_H200 = {
    "8b": Throughput("h200", "8b", decode_tps=6049.1, prefill_tps=38160.3, source=f"{_H200_SOURCE}, batch 64"),
    "32b": Throughput("h200", "32b", decode_tps=2066.4, prefill_tps=9049.9, source=f"{_H200_SOURCE}, batch 64"),
}


def default_measurement_paths() -> list[Path]:
    """Where the shared measurement file is looked for: beside the current directory's project and
    beside this source tree's project (``<repo>/../shared/data/throughput``)."""
    repo = Path(__file__).resolve().parents[3]
    return [
        Path.cwd().parent / "shared" / "data" / "throughput" / MEASURED_FILE,
        repo.parent / "shared" / "data" / "throughput" / MEASURED_FILE,
    ]


def load_measured(path: Path, batch: int = DEFAULT_BATCH) -> dict[str, Throughput]:
    """H200 throughput per model class from the measurement file, decode at the largest measured batch
    not above ``batch``."""
    try:
        data = json.loads(path.read_text())
        out: dict[str, Throughput] = {}
        for result in data["results"]:
            model_class = next((c for c, shape in MODEL_SHAPES.items() if shape == result["model_shape"]), None)
            if model_class is None:
                continue
            points = sorted(result["decode"], key=lambda p: p["batch"])
            chosen = [p for p in points if p["batch"] <= batch] or points[:1]
            point = chosen[-1]
            out[model_class] = Throughput(
                "h200",
                model_class,
                decode_tps=float(point["tokens_per_s"]),
                prefill_tps=float(result["prefill"]["tokens_per_s"]),
                source=f"measured on one {data.get('gpu', 'H200')} ({path}), decode batch {point['batch']}",
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a throughput measurement file ({exc})") from exc
    return out


def derive(base: Throughput, source_gpu: GpuSpec, target: GpuSpec) -> Throughput:
    """Scale a measurement to another GPU: decode by memory bandwidth, prefill by dense BF16 TFLOPS."""
    return Throughput(
        target.name,
        base.model_class,
        decode_tps=round(base.decode_tps * target.hbm_tb_per_s / source_gpu.hbm_tb_per_s, 1),
        prefill_tps=round(base.prefill_tps * target.bf16_dense_tflops / source_gpu.bf16_dense_tflops, 1),
        source=f"derived from the H200 measurement by the datasheets' bandwidth and TFLOPS ratios ({base.source})",
    )


@dataclass(frozen=True)
class Catalog:
    gpus: dict[str, GpuSpec]
    throughput: dict[tuple[str, str], Throughput]

    def gpu(self, name: str) -> GpuSpec:
        try:
            return self.gpus[name.lower()]
        except KeyError:
            raise ConfigError(f"unknown GPU {name!r} (known: {', '.join(sorted(self.gpus))})") from None

    def tps(self, gpu: str, model_class: str) -> Throughput:
        try:
            return self.throughput[(gpu.lower(), model_class.lower())]
        except KeyError:
            known = ", ".join(sorted({c for _, c in self.throughput}))
            raise ConfigError(f"no throughput for model class {model_class!r} (known: {known})") from None


def build_catalog(measured_file: Path | None = None, *, batch: int = DEFAULT_BATCH) -> Catalog:
    """The catalog: H200 from the measurement file when one is found (else the built-in copy), H100 and
    A100 derived from it."""
    h200: dict[str, Throughput] | None = None
    candidates: Iterable[Path] = [measured_file] if measured_file is not None else default_measurement_paths()
    for path in candidates:
        if measured_file is not None or path.is_file():
            h200 = load_measured(path, batch)
            break
    if h200 is None:
        note = "" if batch == DEFAULT_BATCH else f" (no measurement file found to read batch {batch})"
        h200 = {c: replace(t, source=t.source + note) for c, t in _BUILTIN_H200.items()}
    table: dict[tuple[str, str], Throughput] = {}
    for model_class, measured in h200.items():
        table[("h200", model_class)] = measured
        for name, spec in GPUS.items():
            if name != "h200":
                table[(name, model_class)] = derive(measured, GPUS["h200"], spec)
    return Catalog(dict(GPUS), table)
