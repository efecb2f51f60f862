"""Fake-making methods for the synthetic dataset.

Every method is a face swap of the same shape as the classic FaceSwap / Deepfakes pipelines:
the target video is kept (background, motion, expression, camera noise), and in each frame the
inner face is replaced by the *source* identity's face rendered with the target's pose and
expression (:func:`faces.hybrid_identity`), then pasted with a soft mask. The methods differ in
the artifact that pasting leaves, so attribution is learnable:

* ``BlendSwap``: a visible blending boundary (hard or mis-placed mask edge, misalignment,
  residual skin-tone step, missing camera noise inside the mask).
* ``ColorSwap``: colour/illumination mismatch and resampling blur, with a smooth mask.
* ``FlickerSwap``: almost clean single frames, but position, brightness and mask of the pasted
  face jitter independently from frame to frame: a temporal artifact.

How strong the artifact is comes from ``strength`` in [0, 1], drawn per video by the generator,
so the dataset mixes subtle and obvious fakes.

To add a method, subclass :class:`Manipulation`, implement ``sample_params`` and ``fake_frame``
and register an instance in :data:`MANIPULATIONS`; the generator and its tests pick it up.
Override ``select_frames`` to manipulate only some frames (frame labels follow it).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from datamodules.synthetic.faces import (
    Ellipse,
    Identity,
    Pose,
    Scene,
    add_sensor_noise,
    face_ellipse,
    face_mask,
    hybrid_identity,
    render_clean,
)


def _lerp(lo: float, hi: float, w: float) -> float:
    return lo + (hi - lo) * w


def shifted_pose(pose: Pose, dx: float, dy: float, dscale: float, face: Ellipse, frame_size: int) -> Pose:
    """``pose`` moved by ``(dx, dy)`` face half-axes and rescaled by ``1 + dscale``."""
    return replace(
        pose,
        cx=pose.cx + dx * face.a / frame_size,
        cy=pose.cy + dy * face.b / frame_size,
        scale=pose.scale * (1.0 + dscale),
    )


def soft_mask(
    face: Ellipse, frame_size: int, scale_a: float, scale_b: float, dv: float, feather: float
) -> np.ndarray:
    """Blending mask: an ellipse inside ``face`` blurred by ``feather`` pixels (Gaussian sigma).

    Args:
        face: Target face ellipse in pixels.
        frame_size: Frame side in pixels.
        scale_a: Mask half-width over the face half-width.
        scale_b: Mask half-height over the face half-height.
        dv: Vertical shift of the mask centre in face half-heights (down positive): swap masks
            cover eyebrows to chin, not the forehead.
        feather: Gaussian sigma of the edge in pixels; near 0 gives a hard edge.

    Returns:
        Float32 mask in [0, 1] of shape (frame_size, frame_size).
    """
    out = face_mask(face.scaled(scale_a, scale_b, dv=dv), frame_size)
    if feather > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), feather)
    return out


def composite(real: np.ndarray, pasted: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Alpha-blend ``pasted`` (float32, H x W x 3) into ``real`` (uint8) with ``mask`` (H x W)."""
    m = mask[..., None]
    out = real.astype(np.float32) * (1.0 - m) + pasted * m
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def resample_blur(img: np.ndarray, factor: float) -> np.ndarray:
    """Down-sample by ``factor`` (< 1) and back: the blur of a face generated at low resolution."""
    size = img.shape[0]
    small = max(round(size * factor), 4)
    low = cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA)
    return cv2.resize(low, (size, size), interpolation=cv2.INTER_LINEAR)


class Manipulation(ABC):
    """A face-swap method: turns a real video of the target into a fake with the source's face.

    Subclasses draw their per-video artifact parameters in :meth:`sample_params` and make one
    fake frame in :meth:`fake_frame`. All randomness comes from the ``rng`` passed in, so a fake
    is a pure function of (scene, source, real frames, rng state, strength).
    """

    def select_frames(self, rng: np.random.Generator, num_frames: int) -> np.ndarray:
        """Which frames to manipulate (the frame labels). Hook: all frames by default.

        Args:
            rng: Per-video generator.
            num_frames: Number of frames T.

        Returns:
            Boolean array of shape (T,).
        """
        del rng
        return np.ones(num_frames, dtype=bool)

    @abstractmethod
    def sample_params(
        self, rng: np.random.Generator, strength: float, scene: Scene, source: Identity
    ) -> dict[str, Any]:
        """Per-video artifact parameters for a given ``strength`` in [0, 1]."""

    @abstractmethod
    def fake_frame(
        self,
        scene: Scene,
        source: Identity,
        real: np.ndarray,
        index: int,
        params: dict[str, Any],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Fake version of frame ``index``; ``real`` is that real frame (H, W, 3) uint8."""

    def __call__(
        self,
        scene: Scene,
        source: Identity,
        real: np.ndarray,
        rng: np.random.Generator,
        strength: float,
        manipulated: np.ndarray | None = None,
    ) -> np.ndarray:
        """Make the fake video.

        Args:
            scene: Scene of the real target video.
            source: Identity whose face is pasted.
            real: The real video's frames, uint8 (T, H, W, 3), as rendered from ``scene``.
            rng: Per-fake generator.
            strength: Artifact strength in [0, 1].
            manipulated: Boolean (T,) frames to manipulate; the others are copied unchanged.
                Defaults to all frames.

        Returns:
            Fake frames, uint8 (T, H, W, 3).
        """
        if manipulated is None:
            manipulated = np.ones(len(real), dtype=bool)
        params = self.sample_params(rng, strength, scene, source)
        out = real.copy()
        for index in np.flatnonzero(manipulated):
            out[index] = self.fake_frame(scene, source, real[index], int(index), params, rng)
        return out


@dataclass(frozen=True)
class BlendSwap(Manipulation):
    """Visible blending boundary: hard or misplaced mask edge, misalignment, unmatched noise.

    Attributes:
        max_offset: Largest misalignment of the pasted face, in face half-axes.
        feather_px: (subtle, obvious) Gaussian sigma of the mask edge at a 128-pixel frame.
    """

    max_offset: float = 0.06
    feather_px: tuple[float, float] = (2.5, 0.0)

    def sample_params(
        self, rng: np.random.Generator, strength: float, scene: Scene, source: Identity
    ) -> dict[str, Any]:
        """Misalignment, skin-tone residual, mask geometry and edge hardness."""
        hybrid = hybrid_identity(scene.identity, source, skin_match=1.0 - strength * rng.uniform(0.2, 0.7))
        # Mis-feathered masks: either a hard edge inside the face, or one that spills past the jaw.
        spill = rng.uniform() < 0.4
        sa = rng.uniform(1.0, 1.06) if spill else rng.uniform(0.80, 0.92)
        return {
            "hybrid": hybrid,
            "offset": strength * self.max_offset * rng.uniform(-1.0, 1.0, 2),
            "dscale": strength * rng.uniform(-0.05, 0.05),
            "mask": (sa, sa * rng.uniform(0.92, 1.0), rng.uniform(0.04, 0.12)),
            "feather": _lerp(*self.feather_px, strength) * scene.frame_size / 128.0,
            "noise": scene.noise_sigma * rng.uniform(0.0, 0.5),
        }

    def fake_frame(
        self,
        scene: Scene,
        source: Identity,
        real: np.ndarray,
        index: int,
        params: dict[str, Any],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Paste the misaligned hybrid face with a hard-ish mask and weaker camera noise."""
        size = scene.frame_size
        hybrid: Identity = params["hybrid"]
        face = face_ellipse(scene.identity.head, scene.poses[index], size)
        dx, dy = params["offset"]
        pose = shifted_pose(scene.poses[index], dx, dy, params["dscale"], face, size)
        pasted = add_sensor_noise(render_clean(scene, index, hybrid, pose), rng, params["noise"])
        sa, sb, dv = params["mask"]
        mask = soft_mask(face, size, sa, sb, dv, feather=params["feather"])
        return composite(real, pasted.astype(np.float32), mask)


@dataclass(frozen=True)
class ColorSwap(Manipulation):
    """Colour/illumination mismatch plus the blur of a face generated at low resolution.

    Attributes:
        max_gain: Largest per-channel gain error of the pasted face at full strength.
        resample: (subtle, obvious) down-sampling factor before up-sampling back.
    """

    max_gain: float = 0.16
    resample: tuple[float, float] = (0.8, 0.4)

    def sample_params(
        self, rng: np.random.Generator, strength: float, scene: Scene, source: Identity
    ) -> dict[str, Any]:
        """Skin-tone mismatch, colour gain, illumination gradient and resampling factor."""
        direction = rng.uniform(0, 2 * math.pi)
        return {
            # Weak colour correction: more of the source's own skin tone shows as strength grows.
            "hybrid": hybrid_identity(
                scene.identity, source, skin_match=1.0 - strength * rng.uniform(0.5, 1.0)
            ),
            "gain": 1.0 + strength * rng.uniform(-self.max_gain, self.max_gain, 3),
            "gradient": strength
            * rng.uniform(0.1, 0.3)
            * np.array([math.cos(direction), math.sin(direction)]),
            "factor": _lerp(*self.resample, strength) * rng.uniform(0.9, 1.1),
            "mask": (rng.uniform(0.84, 0.92), rng.uniform(0.82, 0.9), rng.uniform(0.06, 0.12)),
        }

    def fake_frame(
        self,
        scene: Scene,
        source: Identity,
        real: np.ndarray,
        index: int,
        params: dict[str, Any],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Paste the recoloured, blurred hybrid face with a smooth, well-placed mask."""
        del rng  # all of this method's randomness is per video
        size = scene.frame_size
        face = face_ellipse(scene.identity.head, scene.poses[index], size)
        pasted = resample_blur(render_clean(scene, index, params["hybrid"]), params["factor"])
        # Illumination mismatch: a linear ramp across the face, as if lit from another side.
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        gx, gy = params["gradient"]
        ramp = 1.0 + gx * (xs - face.cx) / face.a + gy * (ys - face.cy) / face.b
        pasted = pasted * ramp[..., None] * params["gain"].astype(np.float32)
        sa, sb, dv = params["mask"]
        mask = soft_mask(face, size, sa, sb, dv, feather=0.09 * face.a)
        return composite(real, pasted, mask)


@dataclass(frozen=True)
class FlickerSwap(Manipulation):
    """Clean-looking frames whose pasted face jitters in position, brightness and mask over time.

    Attributes:
        max_jitter: Standard deviation of the per-frame position jitter at full strength, in
            face half-axes.
        max_flicker: Standard deviation of the per-frame brightness gain at full strength.
    """

    max_jitter: float = 0.04
    max_flicker: float = 0.06

    def sample_params(
        self, rng: np.random.Generator, strength: float, scene: Scene, source: Identity
    ) -> dict[str, Any]:
        """Good colour match and feathering; jitter amplitudes scale with ``strength``."""
        return {
            "hybrid": hybrid_identity(scene.identity, source, skin_match=rng.uniform(0.85, 1.0)),
            "jitter": strength * self.max_jitter,
            "flicker": strength * self.max_flicker,
            "mask_jitter": strength * 0.05,
            "mask": (rng.uniform(0.84, 0.92), rng.uniform(0.82, 0.9), rng.uniform(0.06, 0.12)),
            # Matching camera noise keeps single frames clean: the artifact is temporal.
            "noise": scene.noise_sigma * rng.uniform(0.8, 1.0),
        }

    def fake_frame(
        self,
        scene: Scene,
        source: Identity,
        real: np.ndarray,
        index: int,
        params: dict[str, Any],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Paste the hybrid face with fresh, independent jitter drawn for this frame."""
        size = scene.frame_size
        face = face_ellipse(scene.identity.head, scene.poses[index], size)
        dx, dy = rng.normal(0.0, params["jitter"], 2)
        pose = shifted_pose(scene.poses[index], dx, dy, 0.0, face, size)
        pasted = render_clean(scene, index, params["hybrid"], pose)
        pasted = pasted * (1.0 + rng.normal(0.0, params["flicker"])) + rng.normal(
            0.0, 0.3 * params["flicker"] * 255, 3
        )
        pasted = add_sensor_noise(pasted.astype(np.float32), rng, params["noise"]).astype(np.float32)
        sa, sb, dv = params["mask"]
        k = 1.0 + rng.normal(0.0, params["mask_jitter"])
        mask = soft_mask(face, size, sa * k, sb * k, dv, feather=0.07 * face.a)
        return composite(real, pasted, mask)


MANIPULATIONS: dict[str, Manipulation] = {
    "BlendSwap": BlendSwap(),
    "ColorSwap": ColorSwap(),
    "FlickerSwap": FlickerSwap(),
}
"""Registry of fake-making methods by name (the ``method`` column of the manifest)."""
