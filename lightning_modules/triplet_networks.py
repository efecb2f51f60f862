"""Plain networks of the metric-learning paper (Kumar, Bhavsar, Sehgal, IWBF 2020, arXiv:2003.08645).

- :class:`FaceEmbedder`: a face-recognition network giving 512-d embeddings, FaceNet
  (facenet-pytorch's ``InceptionResnetV1`` with VGGFace2 weights, the port of the model the
  authors used through ``keras_facenet``) or any timm backbone projected to 512-d; optionally frozen.
- :class:`TripletMLP`: the triplet network of Fig. 3, 512 -> 256 -> 256 -> 128 -> 64. The paper
  gives no layer sizes; these are the authors' public script (``train_triplets_semi_hard.py``:
  ReLU, He-uniform init, dropout 0.1 after each hidden layer, a linear 64-d output, no
  L2-normalisation).
- :func:`video_resnet`: torchvision's R3D-18 / MC3-18 / R(2+1)D-18 with one fake logit, the
  3D-convolution comparison of Table II.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepfake_suite.errors import SuiteError
from lightning_modules.backbones import backbone_width, create_backbone

FACENET_DIM = 512
# InceptionResnetV1's stride-2 valid convolutions leave nothing to convolve below this side.
FACENET_MIN_SIZE = 75
FACENET_WEIGHTS_URL = (
    "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt"
)
# facenet-pytorch's fixed_image_standardization, (x - 127.5) / 128, as mean/std of [0, 1] pixels.
FACENET_PIXEL_CFG: dict[str, Any] = {"mean": (0.5, 0.5, 0.5), "std": (128 / 255,) * 3}
# Kinetics-400 statistics of torchvision's video models.
KINETICS_PIXEL_CFG: dict[str, Any] = {
    "mean": (0.43216, 0.394666, 0.37645),
    "std": (0.22803, 0.22145, 0.216989),
}
VideoArch = Literal["r3d_18", "mc3_18", "r2plus1d_18"]


def facenet_weights_file() -> Path | None:
    """The cached VGGFace2 weights of facenet-pytorch, where it downloads them, if present."""
    name = os.path.basename(urlparse(FACENET_WEIGHTS_URL).path)
    torch_home = Path(torch.hub.get_dir()).parent
    for folder in (torch_home / "checkpoints", Path(torch.hub.get_dir()) / "checkpoints"):
        if (folder / name).is_file():
            return folder / name
    return None


def _weights_path(pretrained: str, key: str) -> Path:
    if pretrained.strip().lower() in {"true", "false", "yes", "no", "on", "off", "0", "1"}:
        raise SuiteError(f"{key}: got the string {pretrained!r}; write true/false without quotes")
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise SuiteError(f"{key}: weight file not found: {path}")
    return path


def create_facenet(pretrained: bool | str, key: str = "model.init_args.pretrained") -> nn.Module:
    """facenet-pytorch's ``InceptionResnetV1`` (L2-normalised 512-d output), VGGFace2 weights loaded offline.

    Args:
        pretrained: ``True`` for the cached VGGFace2 weights, ``False`` for random init, or the
            path of ``20180402-114759-vggface2.pt``.
        key: Config key named in error messages.
    """
    try:
        from facenet_pytorch import InceptionResnetV1
    except ImportError:
        raise SuiteError(
            "embedder 'facenet' needs the facenet-pytorch package: `pip install facenet-pytorch "
            "--no-deps` (its pinned torch would replace ours), or pick a timm embedder"
        ) from None
    network = InceptionResnetV1(pretrained=None, classify=False)
    if pretrained is False:
        return network
    if isinstance(pretrained, str):
        path = _weights_path(pretrained, key)
    else:
        found = facenet_weights_file()
        if found is None:
            target = Path(torch.hub.get_dir()).parent / "checkpoints"
            raise SuiteError(
                f"FaceNet's VGGFace2 weights are not in the local cache and this suite never downloads. "
                f"On a machine with internet, download {FACENET_WEIGHTS_URL} into {target}/ (or anywhere, "
                f"then pass {key}=/path/to/20180402-114759-vggface2.pt), or set {key}=false"
            )
        path = found
    state = torch.load(path, map_location="cpu", weights_only=True)
    # The file carries the 8631-identity VGGFace2 classifier; the embedder does not use it.
    state = {k: v for k, v in state.items() if not k.startswith("logits.")}
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        raise SuiteError(f"{key}: {path} does not hold InceptionResnetV1 weights: {error}") from None
    return network


class FaceEmbedder(nn.Module):
    """Face crops to 512-d face embeddings, with the backbone optionally frozen.

    Frozen means no gradient and BatchNorm/Dropout kept in eval mode whatever ``train()`` is
    called with, so running statistics never move: the paper uses FaceNet as a fixed feature
    extractor (its embeddings are computed once, Sec. IV-B2 and Fig. 6a). A projection to 512-d,
    added for timm backbones of another width, always trains: frozen random weights would only
    be a random projection.

    Args:
        name: ``facenet`` or a timm model name.
        pretrained: ``True``/``False`` or a local weight file (see :func:`create_facenet` and
            :func:`~lightning_modules.backbones.create_backbone`).
        freeze: Freeze the backbone.
        channels_last: Run the backbone in channels-last memory format (faster convs on GPU).
        out_dim: Embedding width (512, FaceNet's).
    """

    def __init__(
        self,
        name: str = "facenet",
        pretrained: bool | str = True,
        freeze: bool = True,
        channels_last: bool = False,
        out_dim: int = FACENET_DIM,
    ) -> None:
        super().__init__()
        if name == "facenet":
            self.backbone = create_facenet(pretrained)
            features = FACENET_DIM
            self.pretrained_cfg: dict[str, Any] = FACENET_PIXEL_CFG
        else:
            self.backbone = create_backbone(name, pretrained)
            features = backbone_width(self.backbone)
            self.pretrained_cfg = dict(getattr(self.backbone, "pretrained_cfg", {}))
        self.projection: nn.Module = nn.Identity() if features == out_dim else nn.Linear(features, out_dim)
        self.min_size = FACENET_MIN_SIZE if name == "facenet" else 1
        self.out_dim = out_dim
        self.frozen = freeze
        self.channels_last = channels_last
        if channels_last:
            self.backbone = self.backbone.to(memory_format=torch.channels_last)  # weights too
        if freeze:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode: bool = True) -> FaceEmbedder:
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def forward(self, images: Tensor) -> Tensor:
        """Args: images (N, 3, S, S), normalised. Returns: (N, 512) embeddings."""
        if min(images.shape[-2:]) < self.min_size:
            raise SuiteError(
                f"FaceNet needs face crops of at least {self.min_size}x{self.min_size} (the paper: 160), "
                f"got {tuple(images.shape[-2:])}: raise data.init_args.frame_size"
            )
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if self.frozen:
            with torch.no_grad():
                features = self.backbone(images)
        else:
            features = self.backbone(images)
        return self.projection(features.float())


class TripletMLP(nn.Module):
    """The triplet network: an MLP from face embeddings to a low-dimensional metric space.

    ``Linear -> ReLU -> Dropout`` per hidden layer, then a linear output; Keras' initialisers of
    the authors' script (He-uniform hidden kernels, Glorot-uniform output, zero biases).

    Args:
        in_dim: Input width (512, FaceNet's).
        hidden_dims: Hidden widths (authors' script: 256, 256, 128).
        embedding_dim: Output width (authors' script: 64).
        dropout: Dropout after each hidden layer (authors' script: 0.1).
        normalize: L2-normalise the output (FaceNet does for its own triplets; the authors' triplet
            network does not).
    """

    def __init__(
        self,
        in_dim: int = FACENET_DIM,
        hidden_dims: Sequence[int] = (256, 256, 128),
        embedding_dim: int = 64,
        dropout: float = 0.1,
        normalize: bool = False,
    ) -> None:
        super().__init__()
        if embedding_dim < 1 or any(width < 1 for width in hidden_dims):
            raise SuiteError(
                f"model.init_args: hidden_dims and embedding_dim must be >= 1, got {list(hidden_dims)}, "
                f"{embedding_dim}"
            )
        if not 0.0 <= dropout < 1.0:
            raise SuiteError(f"model.init_args.dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = []
        width = in_dim
        for hidden in hidden_dims:
            linear = nn.Linear(width, hidden)
            nn.init.kaiming_uniform_(linear.weight, nonlinearity="relu")  # Keras he_uniform
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        output = nn.Linear(width, embedding_dim)
        nn.init.xavier_uniform_(output.weight)
        nn.init.zeros_(output.bias)
        self.layers = nn.Sequential(*layers, output)
        self.normalize = normalize
        self.embedding_dim = embedding_dim

    def forward(self, embeddings: Tensor) -> Tensor:
        """Args: embeddings (N, in_dim). Returns: (N, embedding_dim), unit norm if ``normalize``."""
        out = self.layers(embeddings)
        return F.normalize(out, dim=1) if self.normalize else out


def video_resnet(arch: VideoArch = "r3d_18", pretrained: bool | str = False) -> nn.Module:
    """A torchvision 18-layer video ResNet with one fake logit: (N, 3, T, S, S) -> (N,).

    Args:
        arch: ``r3d_18`` (3D convolutions), ``mc3_18`` (mixed) or ``r2plus1d_18`` ((2+1)D).
        pretrained: ``False`` (the paper trains its 3D network from scratch, Sec. IV-B2),
            ``True`` for cached Kinetics-400 weights, or a local weight file.
    """
    from torchvision.models import get_model_weights, video

    key = "model.init_args.pretrained"
    builders = {"r3d_18": video.r3d_18, "mc3_18": video.mc3_18, "r2plus1d_18": video.r2plus1d_18}
    if arch not in builders:
        raise SuiteError(f"model.init_args.arch must be one of {sorted(builders)}, got {arch!r}")
    network = builders[arch](weights=None)
    if pretrained is not False:
        if isinstance(pretrained, str):
            path = _weights_path(pretrained, key)
        else:
            weights = get_model_weights(arch).DEFAULT  # type: ignore[attr-defined]
            path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)
            if not path.is_file():
                raise SuiteError(
                    f"Kinetics-400 weights of {arch} are not in the local cache ({path}) and this suite "
                    f"never downloads: fetch {weights.url} there on a machine with internet, pass "
                    f"{key}=/path/to/file.pth, or set {key}=false"
                )
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    network.fc = nn.Linear(network.fc.in_features, 1)
    return _SqueezeLogit(network)


class _SqueezeLogit(nn.Module):
    """(N, 1) logits of a wrapped network as (N,)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, clips: Tensor) -> Tensor:
        return self.network(clips).squeeze(-1)
