"""Procedural cartoon faces: identities, per-video motion, backgrounds and frame rendering.

Everything is drawn with anti-aliased OpenCV primitives at sub-pixel precision (``shift``), so
slow head motion moves edges smoothly instead of in one-pixel jumps that a detector could learn.

Geometry convention: a face is an ellipse with centre ``(cx, cy)``, half-axes ``a`` (horizontal)
and ``b`` (vertical) and an in-plane roll. Facial features are placed in *face-local* units
``(u, v)``: ``u`` in multiples of ``a`` (right positive), ``v`` in multiples of ``b`` (down
positive), so one set of identity parameters renders the same face at any pose or frame size.

An :class:`Identity` is split into a :class:`HeadParams` part (head shape, hair, clothes) and a
:class:`FaceParams` part (skin and inner features). A face swap keeps the target's head and
pastes the source's inner face, which is what :func:`hybrid_identity` builds.

Images are RGB ``uint8`` arrays of shape (H, W, 3); videos are (T, H, W, 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

Color = tuple[float, float, float]

# Sub-pixel precision for cv2 drawing: coordinates are passed as fixed point with 4 fractional bits.
_SHIFT = 4
_ONE = 1 << _SHIFT
# Frame size at which stroke widths below are specified; they scale linearly with the frame.
_REFERENCE_SIZE = 128.0

_SKIN_LIGHT: Color = (238.0, 203.0, 178.0)
_SKIN_DARK: Color = (92.0, 60.0, 44.0)
_HAIR_COLORS: tuple[Color, ...] = (
    (24.0, 20.0, 18.0),  # black
    (66.0, 42.0, 28.0),  # dark brown
    (118.0, 80.0, 46.0),  # brown
    (205.0, 170.0, 105.0),  # blond
    (150.0, 62.0, 30.0),  # auburn
    (150.0, 150.0, 150.0),  # grey
)
_IRIS_COLORS: tuple[Color, ...] = (
    (70.0, 45.0, 25.0),
    (40.0, 28.0, 20.0),
    (60.0, 110.0, 160.0),
    (80.0, 120.0, 70.0),
    (110.0, 115.0, 120.0),
)
_LIP_RED: Color = (175.0, 65.0, 75.0)
HAIR_STYLES = ("short", "long", "buzz", "curly")


@dataclass(frozen=True)
class HeadParams:
    """What stays the target's in a face swap: head shape, hair and clothes.

    Attributes:
        face_width: Full width of the face ellipse as a fraction of the frame width.
        aspect: Face ellipse height divided by its width.
        hair_color: RGB hair colour.
        hair_style: One of :data:`HAIR_STYLES`.
        hairline: Face-local ``v`` (negative, above the eyes) where the fringe ends.
        fringe_tilt: Rotation of the fringe in degrees, a side-swept hairline.
        clothing_color: RGB colour of the shoulders.
        neck_skin: RGB colour of neck and ears (the target's skin, kept in a swap).
    """

    face_width: float
    aspect: float
    hair_color: Color
    hair_style: str
    hairline: float
    fringe_tilt: float
    clothing_color: Color
    neck_skin: Color


@dataclass(frozen=True)
class FaceParams:
    """What a face swap replaces: skin tone and inner facial features (face-local units).

    Attributes:
        skin: RGB skin colour of the face.
        eye_spacing: Horizontal offset ``u`` of each eye centre.
        eye_v: Vertical offset ``v`` of the eyes.
        eye_width: Eye half-width in units of ``a``.
        eye_ratio: Eye half-height over half-width when fully open.
        iris_color: RGB iris colour.
        brow_gap: Distance from eye centre up to the brow, in units of ``b``.
        brow_thickness: Brow stroke width in pixels at a 128-pixel frame.
        brow_arch: Brow arch height in units of ``b``.
        brow_color: RGB brow colour.
        nose_v: Vertical offset of the nose tip.
        nose_width: Nostril half-spacing in units of ``a``.
        mouth_v: Vertical offset of the mouth centre.
        mouth_width: Mouth half-width in units of ``a``.
        lip_color: RGB lip colour.
        lip_height: Lip half-height in units of ``b``.
    """

    skin: Color
    eye_spacing: float
    eye_v: float
    eye_width: float
    eye_ratio: float
    iris_color: Color
    brow_gap: float
    brow_thickness: float
    brow_arch: float
    brow_color: Color
    nose_v: float
    nose_width: float
    mouth_v: float
    mouth_width: float
    lip_color: Color
    lip_height: float


@dataclass(frozen=True)
class Identity:
    """A synthetic person: a name plus head and inner-face parameters."""

    name: str
    head: HeadParams
    face: FaceParams


@dataclass(frozen=True)
class Pose:
    """Head pose and expression in one frame.

    Attributes:
        cx: Face centre x as a fraction of the frame width.
        cy: Face centre y as a fraction of the frame height.
        scale: Multiplier on the identity's face size (camera distance).
        roll: In-plane head rotation in degrees (clockwise on screen).
        eye_open: Eyelid opening in [0, 1]; 0 is a closed blink.
        mouth_open: Mouth opening in [0, 1].
    """

    cx: float
    cy: float
    scale: float
    roll: float
    eye_open: float
    mouth_open: float


@dataclass(frozen=True)
class Ellipse:
    """A rotated ellipse in pixel coordinates (``angle`` in degrees, as in ``cv2.ellipse``)."""

    cx: float
    cy: float
    a: float
    b: float
    angle: float

    def point(self, u: float, v: float) -> tuple[float, float]:
        """Pixel coordinates of face-local point ``(u, v)``."""
        t = math.radians(self.angle)
        du, dv = u * self.a, v * self.b
        return (
            self.cx + du * math.cos(t) - dv * math.sin(t),
            self.cy + du * math.sin(t) + dv * math.cos(t),
        )

    def scaled(self, sa: float, sb: float, dv: float = 0.0) -> Ellipse:
        """Ellipse with half-axes scaled by ``(sa, sb)``, centre moved down by ``dv`` half-heights."""
        cx, cy = self.point(0.0, dv)
        return Ellipse(cx, cy, self.a * sa, self.b * sb, self.angle)

    def bounding_box(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounding box ``(x0, y0, x1, y1)`` of the rotated ellipse."""
        t = math.radians(self.angle)
        hw = math.hypot(self.a * math.cos(t), self.b * math.sin(t))
        hh = math.hypot(self.a * math.sin(t), self.b * math.cos(t))
        return self.cx - hw, self.cy - hh, self.cx + hw, self.cy + hh


@dataclass(frozen=True)
class Scene:
    """Everything needed to render one real video, deterministic given its fields.

    Attributes:
        identity: Who is in the video.
        poses: One :class:`Pose` per frame.
        background: Static background, float32 RGB of shape (H, W, 3).
        light: Face-local ``(u, v)`` of the brightest skin point (illumination direction).
        noise_sigma: Standard deviation of per-frame sensor noise, in 8-bit levels.
        noise_seed: Seed of the per-frame sensor noise.
    """

    identity: Identity
    poses: tuple[Pose, ...]
    background: np.ndarray
    light: tuple[float, float]
    noise_sigma: float
    noise_seed: int

    @property
    def frame_size(self) -> int:
        """Side of the square frame in pixels."""
        return int(self.background.shape[0])

    @property
    def num_frames(self) -> int:
        """Number of frames."""
        return len(self.poses)


# ----------------------------------------------------------------------------------- sampling


def _jitter(rng: np.random.Generator, color: Color, sigma: float) -> Color:
    c = np.clip(np.asarray(color) + rng.normal(0.0, sigma, 3), 0, 255)
    return (float(c[0]), float(c[1]), float(c[2]))


def _mix(c0: Color, c1: Color, w: float) -> Color:
    return (
        c0[0] + (c1[0] - c0[0]) * w,
        c0[1] + (c1[1] - c0[1]) * w,
        c0[2] + (c1[2] - c0[2]) * w,
    )


def _pick(rng: np.random.Generator, palette: tuple[Color, ...]) -> Color:
    return palette[int(rng.integers(len(palette)))]


def make_identity(name: str, rng: np.random.Generator) -> Identity:
    """Draw a random identity.

    Args:
        name: Identity name, stored on the result.
        rng: Generator seeded for this identity only, so identities do not depend on each other.

    Returns:
        The identity.
    """
    skin = _jitter(rng, _mix(_SKIN_LIGHT, _SKIN_DARK, float(rng.uniform())), 7.0)
    hair = _jitter(rng, _pick(rng, _HAIR_COLORS), 8.0)
    head = HeadParams(
        face_width=float(rng.uniform(0.40, 0.52)),
        aspect=float(rng.uniform(1.18, 1.40)),
        hair_color=hair,
        hair_style=HAIR_STYLES[int(rng.choice(len(HAIR_STYLES), p=[0.4, 0.3, 0.1, 0.2]))],
        hairline=float(-rng.uniform(0.42, 0.62)),
        fringe_tilt=float(rng.uniform(-14.0, 14.0)),
        clothing_color=tuple(float(x) for x in rng.uniform(25, 230, 3)),  # type: ignore[arg-type]
        neck_skin=skin,
    )
    face = FaceParams(
        skin=skin,
        eye_spacing=float(rng.uniform(0.32, 0.44)),
        eye_v=float(rng.uniform(-0.22, -0.06)),
        eye_width=float(rng.uniform(0.15, 0.21)),
        eye_ratio=float(rng.uniform(0.45, 0.65)),
        iris_color=_jitter(rng, _pick(rng, _IRIS_COLORS), 10.0),
        brow_gap=float(rng.uniform(0.13, 0.20)),
        brow_thickness=float(rng.uniform(1.3, 2.8)),
        brow_arch=float(rng.uniform(0.03, 0.09)),
        brow_color=_mix(hair, (20.0, 15.0, 12.0), float(rng.uniform(0.2, 0.6))),
        nose_v=float(rng.uniform(0.20, 0.33)),
        nose_width=float(rng.uniform(0.09, 0.15)),
        mouth_v=float(rng.uniform(0.50, 0.60)),
        mouth_width=float(rng.uniform(0.24, 0.38)),
        lip_color=_mix(skin, _LIP_RED, float(rng.uniform(0.3, 0.6))),
        lip_height=float(rng.uniform(0.035, 0.06)),
    )
    return Identity(name=name, head=head, face=face)


def hybrid_identity(target: Identity, source: Identity, skin_match: float = 0.0) -> Identity:
    """The identity a face swap shows: target's head with the source's inner face.

    Args:
        target: Identity whose video is manipulated (keeps head, hair, neck, clothes).
        source: Identity whose inner face is pasted.
        skin_match: 0 keeps the source skin tone, 1 recolours it to the target's (what the
            colour-correction step of a swap pipeline tries to do).

    Returns:
        The hybrid identity, named after the target.
    """
    skin = _mix(source.face.skin, target.face.skin, skin_match)
    lips = _mix(source.face.lip_color, target.face.lip_color, skin_match)
    face = replace(source.face, skin=skin, lip_color=lips)
    return Identity(name=target.name, head=target.head, face=face)


def _smooth_wave(rng: np.random.Generator, t: np.ndarray, amp: float, f_lo: float, f_hi: float) -> np.ndarray:
    """Sum of two sinusoids with random frequency and phase: smooth, non-periodic-looking motion."""
    out = np.zeros_like(t)
    for share in (0.75, 0.25):
        f = rng.uniform(f_lo, f_hi) / share**0.5
        out += share * amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return out


def _blink_track(rng: np.random.Generator, t: np.ndarray, fps: float) -> np.ndarray:
    """Eye opening over time: 1 with short triangular dips at random blink times."""
    duration = t[-1] + 1.0 / fps if len(t) else 0.0
    n_blinks = int(rng.poisson(0.5 * duration)) + int(rng.uniform() < 0.3)
    half = rng.uniform(0.06, 0.10)  # half a blink, in seconds (blinks last 100-200 ms)
    opening = np.ones_like(t)
    for start in rng.uniform(0.0, max(duration, 1e-6), n_blinks):
        opening = np.minimum(opening, np.clip(np.abs(t - start) / half, 0.0, 1.0))
    return opening


def _mouth_track(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Mouth opening over time: syllable-like bursts when talking, closed otherwise."""
    if rng.uniform() < 0.25:
        return np.zeros_like(t)
    amp = rng.uniform(0.3, 1.0)
    syllables = np.maximum(0.0, np.sin(2 * np.pi * rng.uniform(2.0, 5.0) * t + rng.uniform(0, 2 * np.pi)))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t + rng.uniform(0, 2 * np.pi))
    return np.clip(amp * syllables * envelope, 0.0, 1.0)


def make_poses(rng: np.random.Generator, num_frames: int, fps: float) -> tuple[Pose, ...]:
    """Smooth random head motion, blinks and speech for one video.

    Args:
        rng: Per-video generator.
        num_frames: Number of frames T.
        fps: Frame rate, so motion speeds are in real seconds whatever the frame count.

    Returns:
        T poses.
    """
    t = np.arange(num_frames, dtype=np.float64) / fps
    cx = 0.5 + rng.uniform(-0.03, 0.03) + _smooth_wave(rng, t, rng.uniform(0.01, 0.045), 0.2, 0.8)
    cy = 0.55 + rng.uniform(-0.02, 0.02) + _smooth_wave(rng, t, rng.uniform(0.005, 0.025), 0.2, 0.8)
    scale = 1.0 + rng.uniform(-0.04, 0.04) + _smooth_wave(rng, t, rng.uniform(0.0, 0.05), 0.1, 0.5)
    roll = rng.uniform(-4, 4) + _smooth_wave(rng, t, rng.uniform(0.0, 5.0), 0.2, 0.7)
    eye_open = _blink_track(rng, t, fps)
    mouth = _mouth_track(rng, t)
    return tuple(
        Pose(float(cx[i]), float(cy[i]), float(scale[i]), float(roll[i]), float(eye_open[i]), float(mouth[i]))
        for i in range(num_frames)
    )


def make_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Random linear gradient, a few soft blobs and low-amplitude texture.

    Args:
        rng: Per-video generator.
        size: Frame side in pixels.

    Returns:
        Float32 RGB image of shape (size, size, 3) in [0, 255].
    """
    c0, c1 = rng.uniform(30, 225, 3), rng.uniform(30, 225, 3)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.linspace(-0.5, 0.5, size, dtype=np.float32)
    g = np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None]
    g = (g - g.min()) / max(float(g.max() - g.min()), 1e-6)
    bg = c0[None, None, :] + (c1 - c0)[None, None, :] * g[..., None]
    # Soft blobs stand in for objects in the room, so the background is not trivially flat.
    blobs = np.zeros((size, size, 3), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        centre = (int(rng.uniform(0, size)), int(rng.uniform(0, size)))
        axes = (int(rng.uniform(0.1, 0.35) * size), int(rng.uniform(0.1, 0.35) * size))
        cv2.ellipse(
            blobs, centre, axes, float(rng.uniform(0, 180)), 0, 360, rng.uniform(-30, 30, 3).tolist(), -1
        )
    bg += cv2.GaussianBlur(blobs, (0, 0), size * 0.04)
    for cells, amp in ((6, rng.uniform(3, 8)), (max(size // 4, 2), rng.uniform(1.5, 4))):
        tex = rng.normal(0.0, 1.0, (cells, cells, 3)).astype(np.float32)
        bg += amp * cv2.resize(tex, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(bg, 0, 255).astype(np.float32)


def make_scene(
    identity: Identity, rng: np.random.Generator, num_frames: int, frame_size: int, fps: float
) -> Scene:
    """Draw motion, background, lighting and camera noise of one real video of ``identity``.

    Args:
        identity: The person.
        rng: Per-video generator (the same generator state gives the same video).
        num_frames: Number of frames T.
        frame_size: Frame side in pixels.
        fps: Frame rate.

    Returns:
        The scene.
    """
    poses = make_poses(rng, num_frames, fps)
    background = make_background(rng, frame_size)
    light = (float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-0.6, 0.1)))
    return Scene(
        identity=identity,
        poses=poses,
        background=background,
        light=light,
        noise_sigma=float(rng.uniform(1.5, 4.0)),
        noise_seed=int(rng.integers(2**31)),
    )


# ---------------------------------------------------------------------------------- rendering


def face_ellipse(head: HeadParams, pose: Pose, frame_size: int) -> Ellipse:
    """The face (skin) ellipse of ``head`` at ``pose`` in pixels."""
    a = 0.5 * head.face_width * pose.scale * frame_size
    return Ellipse(pose.cx * frame_size, pose.cy * frame_size, a, a * head.aspect, pose.roll)


def face_box(head: HeadParams, pose: Pose, frame_size: int) -> tuple[int, int, int, int]:
    """Integer face box ``(x0, y0, x1, y1)`` clipped to the frame; ``x1, y1`` are exclusive.

    The box is the bounding box of the face (skin) ellipse, without hair or neck, so that
    ``frame[y0:y1, x0:x1]`` is the face crop.
    """
    x0, y0, x1, y1 = face_ellipse(head, pose, frame_size).bounding_box()

    def clip(v: float) -> int:
        return int(min(max(v, 0), frame_size))

    return clip(math.floor(x0)), clip(math.floor(y0)), clip(math.ceil(x1)), clip(math.ceil(y1))


def _fx(v: float) -> int:
    return round(v * _ONE)


def _stroke(width: float) -> int:
    """Line thickness in whole pixels, at least 1 (cv2 needs a positive int)."""
    return max(round(width), 1)


def _draw_ellipse(
    img: np.ndarray,
    e: Ellipse,
    color: Color,
    thickness: int = -1,
    start: float = 0.0,
    end: float = 360.0,
) -> None:
    """Anti-aliased ellipse (or arc / filled sector) at sub-pixel precision."""
    cv2.ellipse(
        img,
        (_fx(e.cx), _fx(e.cy)),
        (max(_fx(e.a), 1), max(_fx(e.b), 1)),
        e.angle,
        start,
        end,
        color,
        thickness,
        cv2.LINE_AA,
        _SHIFT,
    )


def _draw_polyline(img: np.ndarray, pts: list[tuple[float, float]], color: Color, thickness: int) -> None:
    arr = np.array([[_fx(x), _fx(y)] for x, y in pts], np.int32)
    cv2.polylines(img, [arr], False, color, max(thickness, 1), cv2.LINE_AA, _SHIFT)


def _sub_ellipse(face: Ellipse, u: float, v: float, a: float, b: float) -> Ellipse:
    """Ellipse centred at face-local ``(u, v)``, rolled with the face, half-axes in pixels."""
    cx, cy = face.point(u, v)
    return Ellipse(cx, cy, a, b, face.angle)


def _darker(c: Color, k: float) -> Color:
    return (c[0] * k, c[1] * k, c[2] * k)


def _draw_hair_back(img: np.ndarray, head: HeadParams, face: Ellipse) -> None:
    """Hair mass behind the face; its shape depends on the style."""
    if head.hair_style == "long":
        _draw_ellipse(img, face.scaled(1.22, 1.12, dv=0.22), head.hair_color)
    elif head.hair_style == "curly":
        _draw_ellipse(img, face.scaled(1.38, 1.12, dv=-0.22), head.hair_color)
    elif head.hair_style == "short":
        _draw_ellipse(img, face.scaled(1.08, 0.98, dv=-0.12), head.hair_color)
    else:  # buzz: a thin layer that barely shows past the skin
        _draw_ellipse(img, face.scaled(1.03, 1.0, dv=-0.05), head.hair_color)


def _fringe_alpha(head: HeadParams, face: Ellipse, size: int) -> np.ndarray:
    """Coverage in [0, 1] (H, W, 1) of the hair over the forehead.

    The fringe is the upper half of an ellipse whose flat side is the (tilted) hairline.
    """
    hl = head.hairline if head.hair_style != "buzz" else head.hairline - 0.15
    top = 1.06 if head.hair_style != "curly" else 1.12
    half_width = 1.04 * math.sqrt(max(1.0 - hl * hl, 0.0)) + 0.04
    cx, cy = face.point(0.0, hl)
    cap = Ellipse(cx, cy, half_width * face.a, (top + hl) * face.b, face.angle + head.fringe_tilt)
    mask = np.zeros((size, size), np.uint8)
    _draw_ellipse(mask, cap, (255.0, 255.0, 255.0), start=180.0, end=360.0)
    return mask.astype(np.float32)[..., None] / 255.0


def _draw_body(img: np.ndarray, head: HeadParams, face: Ellipse) -> None:
    """Shoulders and neck: they move with the head horizontally, stay at the frame bottom."""
    shoulders = Ellipse(face.cx, face.cy + 1.55 * face.b, 2.3 * face.a, 0.75 * face.b, 0.0)
    _draw_ellipse(img, shoulders, head.clothing_color)
    neck_top = face.point(0.0, 0.5)
    w = 0.48 * face.a
    pts = np.array(
        [
            [_fx(neck_top[0] - w), _fx(neck_top[1])],
            [_fx(neck_top[0] + w), _fx(neck_top[1])],
            [_fx(face.cx + w * 1.1), _fx(face.cy + 1.05 * face.b)],
            [_fx(face.cx - w * 1.1), _fx(face.cy + 1.05 * face.b)],
        ],
        np.int32,
    )
    cv2.fillPoly(img, [pts], _darker(head.neck_skin, 0.8), cv2.LINE_AA, _SHIFT)
    collar = Ellipse(face.cx, face.cy + 1.05 * face.b, w * 1.1, 0.12 * face.b, 0.0)
    _draw_ellipse(img, collar, _darker(head.neck_skin, 0.8), start=0.0, end=180.0)
    # Ears sit behind the face ellipse; only their outer halves show.
    for side in (-1.0, 1.0):
        _draw_ellipse(
            img,
            _sub_ellipse(face, side * 0.97, -0.02, 0.16 * face.a, 0.2 * face.b),
            _darker(head.neck_skin, 0.9),
        )


def _draw_eye(img: np.ndarray, f: FaceParams, face: Ellipse, side: float, opening: float, px: float) -> None:
    ew = f.eye_width * face.a
    eh_open = ew * f.eye_ratio
    u, v = side * f.eye_spacing, f.eye_v
    line = _darker(f.skin, 0.45)
    if opening < 0.15:
        # Closed lid: just the lash line.
        _draw_ellipse(img, _sub_ellipse(face, u, v, ew, 0.25 * eh_open), line, _stroke(px), 0.0, 180.0)
        return
    eh = eh_open * opening
    _draw_ellipse(img, _sub_ellipse(face, u, v, ew, eh), (245.0, 243.0, 238.0))
    iris_r = 0.75 * eh_open
    _draw_ellipse(img, _sub_ellipse(face, u, v, iris_r, min(iris_r, 0.95 * eh)), f.iris_color)
    _draw_ellipse(
        img, _sub_ellipse(face, u, v, 0.45 * iris_r, min(0.45 * iris_r, 0.9 * eh)), (15.0, 12.0, 12.0)
    )
    _draw_ellipse(img, _sub_ellipse(face, u, v, ew, eh), line, _stroke(0.8 * px))


def _draw_features(img: np.ndarray, f: FaceParams, face: Ellipse, pose: Pose, size: int) -> None:
    """Eyes, brows, nose and mouth of ``f`` inside ``face``."""
    px = size / _REFERENCE_SIZE  # stroke widths are given for a 128-pixel frame
    for side in (-1.0, 1.0):
        _draw_eye(img, f, face, side, pose.eye_open, px)
        brow = _sub_ellipse(
            face,
            side * f.eye_spacing,
            f.eye_v - f.brow_gap + f.brow_arch,
            1.25 * f.eye_width * face.a,
            f.brow_arch * face.b + px,
        )
        _draw_ellipse(img, brow, f.brow_color, _stroke(f.brow_thickness * px), 200.0, 340.0)
    shade = _darker(f.skin, 0.72)
    bridge = [
        face.point(0.04, f.eye_v + 0.05),
        face.point(0.07, f.nose_v - 0.02),
        face.point(0.0, f.nose_v + 0.02),
    ]
    _draw_polyline(img, bridge, shade, _stroke(px))
    for side in (-1.0, 1.0):
        nostril = _sub_ellipse(face, side * f.nose_width, f.nose_v, 0.05 * face.a, 0.025 * face.b)
        _draw_ellipse(img, nostril, _darker(f.skin, 0.5))
    mw = f.mouth_width * face.a
    lip_h = f.lip_height * face.b
    open_h = pose.mouth_open * 0.1 * face.b
    _draw_ellipse(img, _sub_ellipse(face, 0.0, f.mouth_v, mw, lip_h + open_h), f.lip_color)
    if open_h > 0.3:
        _draw_ellipse(img, _sub_ellipse(face, 0.0, f.mouth_v, 0.8 * mw, open_h), (55.0, 18.0, 22.0))
        teeth = _sub_ellipse(face, 0.0, f.mouth_v - 0.3 * open_h / face.b, 0.55 * mw, 0.4 * open_h)
        _draw_ellipse(img, teeth, (235.0, 232.0, 222.0), start=180.0, end=360.0)
    else:
        _draw_ellipse(
            img,
            _sub_ellipse(face, 0.0, f.mouth_v, mw, 0.3 * lip_h),
            _darker(f.lip_color, 0.55),
            _stroke(px),
            0.0,
            180.0,
        )


def face_mask(face: Ellipse, size: int) -> np.ndarray:
    """Anti-aliased filled-ellipse mask in [0, 1], float32 of shape (size, size)."""
    mask = np.zeros((size, size), np.uint8)
    _draw_ellipse(mask, face, (255.0, 255.0, 255.0))
    return mask.astype(np.float32) / 255.0


def _shade_face(img: np.ndarray, face: Ellipse, light: tuple[float, float]) -> np.ndarray:
    """Darken the face towards its rim, brightest at ``light``: a cheap sphere-like look.

    Returns a float32 copy of ``img``; only the face's bounding box is touched, for speed.
    """
    out = img.astype(np.float32)
    size = img.shape[0]
    x0, y0, x1, y1 = (int(min(max(v, 0), size)) for v in face.bounding_box())
    x1, y1 = min(x1 + 1, size), min(y1 + 1, size)
    if x1 <= x0 or y1 <= y0:
        return out
    mask = face_mask(face, size)[y0:y1, x0:x1]
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    t = math.radians(face.angle)
    dx, dy = xs - face.cx, ys - face.cy
    u = (dx * math.cos(t) + dy * math.sin(t)) / face.a
    v = (-dx * math.sin(t) + dy * math.cos(t)) / face.b
    shade = 1.0 - 0.22 * np.clip((u - light[0]) ** 2 + (v - light[1]) ** 2, 0.0, 2.0)
    factor = 1.0 - mask * (1.0 - shade)
    out[y0:y1, x0:x1] *= factor[..., None]
    return out


def render_clean(
    scene: Scene, index: int, identity: Identity | None = None, pose: Pose | None = None
) -> np.ndarray:
    """Render frame ``index`` without sensor noise.

    Args:
        scene: The video's scene (background, lighting, poses).
        index: Frame index.
        identity: Who to draw; defaults to the scene's identity. A face swap passes a hybrid.
        pose: Pose override (a misaligned swap passes a shifted pose); defaults to the frame's.

    Returns:
        Float32 RGB frame (H, W, 3) in [0, 255].
    """
    identity = identity or scene.identity
    pose = pose or scene.poses[index]
    size = scene.frame_size
    img = scene.background.astype(np.uint8)
    face = face_ellipse(identity.head, pose, size)
    _draw_hair_back(img, identity.head, face)
    _draw_body(img, identity.head, face)
    _draw_ellipse(img, face, identity.face.skin)
    _draw_features(img, identity.face, face, pose, size)
    shaded = _shade_face(img, face, scene.light)
    # The fringe is drawn after shading so hair is not darkened like skin.
    alpha = _fringe_alpha(identity.head, face, size)
    colour = np.asarray(identity.head.hair_color, np.float32)
    return shaded * (1.0 - alpha) + colour * alpha


def add_sensor_noise(frame: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Add Gaussian sensor noise and quantise to uint8 (H, W, 3)."""
    noisy = frame + rng.normal(0.0, sigma, frame.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def noise_rng(scene: Scene, index: int) -> np.random.Generator:
    """Generator of frame ``index``'s sensor noise (per frame, so frames can be redrawn alone)."""
    return np.random.default_rng([scene.noise_seed, index])


def render_video(scene: Scene) -> np.ndarray:
    """Render the real video of ``scene``: uint8 RGB frames of shape (T, H, W, 3)."""
    frames = [
        add_sensor_noise(render_clean(scene, i), noise_rng(scene, i), scene.noise_sigma)
        for i in range(scene.num_frames)
    ]
    return np.stack(frames)
