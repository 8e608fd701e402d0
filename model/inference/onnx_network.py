"""Run a network's tensor computation with ONNX Runtime, everything around it in PyTorch.

The serving graph keeps each toolbox's own pre- and post-processing (MMDetection's test
pipeline, NMS and rescaling, MMPose's SimCC decoding, MMAction2's packing) and moves only the
forward pass of the network, where the time goes, to ONNX Runtime (2-3x faster on the CPUs
of the development machine). ``onnx_copy`` exports a module once per weights (a file cache
keyed by a hash of the weights and the example's shapes), checks the export against PyTorch on
the example, and returns a module that computes the same outputs, in the same nesting, with
ORT.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_unflatten

logger = logging.getLogger(__name__)

# Beside the MMCV wheel of scripts/setup_env.sh (same WORKCELL_CACHE override).
CACHE_DIR = Path(os.environ.get("WORKCELL_CACHE",
                                Path.home() / ".cache" / "workcell-action")) / "onnx"
# The opset the exports were measured with on the development machine. TorchScript export
# (dynamo=False) traces the detector and pose models in seconds; the recognizer's fusion neck
# (adaptive pooling over a dynamic length) needs the dynamo exporter (tens of seconds, once per
# weights).
OPSET = 17


class ExportMismatch(RuntimeError):
    """The ONNX export does not reproduce PyTorch's outputs."""


class _Flat(nn.Module):
    """The module with its (nested) outputs flattened to a tuple of tensors."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(tree_flatten(self.module(*args))[0])


def providers() -> list[str]:
    """ONNX Runtime's CUDA provider when this process has a GPU and the installed ORT build
    offers it, then the CPU."""
    gpu = torch.cuda.is_available() and \
        "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if gpu else ["CPUExecutionProvider"]


class OnnxModule(nn.Module):
    """Same inputs and outputs (nesting included) as the exported module, computed by ORT;
    ``run`` takes and gives NumPy arrays (outputs flat) without a detour through torch."""

    def __init__(self, path: Path, spec, threads: int):
        super().__init__()
        options = onnxruntime.SessionOptions()
        # Replicas and actors share the machine's cores: each session uses its own share,
        # and runs its graph's nodes one after another (no second, inter-op pool).
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # Idle pool threads sleep instead of spinning: a spinning thread takes a core from
        # the other replicas between this session's calls.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(path), options, providers=providers())
        self.names = [i.name for i in self.session.get_inputs()]
        self.spec = spec
        self.path = path

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, dict(zip(self.names, arrays, strict=True)))

    def forward(self, *args: torch.Tensor):
        outputs = self.run(*(a.detach().cpu().numpy() for a in args))
        return tree_unflatten([torch.from_numpy(o) for o in outputs], self.spec)


def _key(module: nn.Module, example: tuple[torch.Tensor, ...], dynamic_axes: dict) -> str:
    digest = hashlib.sha256(type(module).__qualname__.encode())
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(repr([tuple(t.shape) for t in example]).encode())
    digest.update(repr(sorted(dynamic_axes.items())).encode())
    return digest.hexdigest()[:20]


def _quantized(path: Path) -> Path:
    """The dynamic int8 quantization of an exported file (cached beside it). ORT's shape
    inference and graph cleanup run first: quantize_dynamic fails on the raw export ("Expected
    ... to be an initializer")."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    target = path.with_suffix(".int8.onnx")
    if not target.is_file():
        prepared = path.with_suffix(f".{os.getpid()}.pre.onnx")
        partial = path.with_suffix(f".{os.getpid()}.int8.partial")
        quant_pre_process(str(path), str(prepared), skip_symbolic_shape=True)
        quantize_dynamic(str(prepared), str(partial), weight_type=QuantType.QInt8)
        prepared.unlink()
        os.replace(partial, target)
    return target


def onnx_copy(module: nn.Module, example: tuple[torch.Tensor, ...],
              dynamic_axes: dict[int, dict[int, str]], threads: int = 1,
              tolerance: float = 1e-3, cache_dir: Path = CACHE_DIR,
              dynamo: bool = False, int8: bool = False) -> OnnxModule:
    """The ORT twin of ``module`` (eval mode, CPU). ``dynamic_axes``: per positional input, its
    axes that may change size ({0: {0: "batch"}}). Raises ``ExportMismatch`` when an output of
    the export differs from PyTorch's on ``example`` by more than ``tolerance`` times (1 + its
    magnitude) (raw head outputs such as box distances run into the hundreds). ``int8``: the
    export with ONNX Runtime's dynamic int8 quantization of its weights (activations quantized
    at run time), which moves outputs by more than float rounding: give it a looser
    ``tolerance`` and measure what it does to accuracy."""
    module = module.eval()
    flat = _Flat(module).eval()
    with torch.no_grad():
        expected = module(*example)
    _, spec = tree_flatten(expected)
    names = [f"input_{i}" for i in range(len(example))]
    path = Path(cache_dir) / f"{type(module).__name__}-{_key(module, example, dynamic_axes)}.onnx"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        with torch.no_grad():
            if dynamo:
                dims = {name: torch.export.Dim(name, min=1, max=4096)
                        for axes in dynamic_axes.values() for name in axes.values()}
                shapes = tuple({axis: dims[name] for axis, name in
                                dynamic_axes.get(i, {}).items()} for i in range(len(example)))
                torch.onnx.export(flat, example, str(partial), dynamo=True, external_data=False,
                                  input_names=names, dynamic_shapes=(shapes,), verbose=False)
            else:
                torch.onnx.export(flat, example, str(partial), dynamo=False,
                                  opset_version=OPSET, input_names=names,
                                  dynamic_axes={names[i]: axes
                                                for i, axes in dynamic_axes.items()})
        os.replace(partial, path)   # whole or absent, when several replicas export at once
    if int8:
        path = _quantized(path)
    twin = OnnxModule(path, spec, threads)
    got = tree_flatten(twin(*example))[0]
    worst = relative = 0.0
    for g, e in zip(got, tree_flatten(expected)[0], strict=True):
        diff = np.abs(g.numpy() - e.cpu().numpy())
        worst = max(worst, float(diff.max()))
        relative = max(relative, float((diff / (1 + np.abs(e.cpu().numpy()))).max()))
    if relative > tolerance:
        raise ExportMismatch(f"{type(module).__name__}: the ONNX export differs from PyTorch by "
                             f"{worst:.2e} ({relative:.2e} relative, > {tolerance}) on the "
                             f"example ({path})")
    twin.max_abs_diff = worst
    logger.info("%s: ONNX Runtime twin %s (max |diff| %.1e)", type(module).__name__, path, worst)
    return twin
