"""Copies of a dataset's videos re-encoded with H.264 at chosen constant rate factors.

The MFoM paper trains on FaceForensics++ and DeepfakeTIMIT with "two versions of all videos ...
(CRF=23) and (CRF=40)" (Sec. IV-B). FF++ publishes its c23 and c40 encodings; DeepfakeTIMIT (and
the VidTIMIT frame folders of its reals) does not, so :class:`ReencodedSource` makes them: each
video of the wrapped source, once per CRF, as an ``.mp4`` under ``root/crf<N>/``. The copies are
made in :meth:`ReencodedSource.prepare` (once per node), in parallel, each written under a
temporary name and renamed, so a killed run resumes; a video that cannot be decoded is listed with
its reason in ``root/report.csv`` and left out, and the rest go on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import os
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from datamodules.sources.base import VideoRecord, VideoSource
from datamodules.video_io import VideoDecodeError, _open, _read_frame, frame_files
from deepfake_suite.atomic import atomic_write_text
from deepfake_suite.errors import SuiteError

__all__ = ["ReencodedSource", "reencode_h264"]

REPORT_NAME = "report.csv"


class ReencodedSource(VideoSource):
    """The videos of ``source``, each re-encoded as H.264 (libx264, yuv420p) at every CRF of ``crfs``.

    A copy keeps its video's label, method, dataset, split and identity; its ``video_id`` gains
    ``/crf<N>`` and its ``compression`` becomes ``crf<N>`` (``higher_quality/crf<N>`` where the
    source named a quality), so both versions of a video sit in the same split (a video and its
    re-encoding never straddle train and test). A video that failed is tried again by the next
    ``prepare``.

    Args:
        source: The dataset adapter whose videos are re-encoded (``class_path`` + ``init_args``).
        crfs: x264 constant rate factors, one copy of every video per value (0-51; FF++'s c23 and
            c40 are 23 and 40).
        root: Folder for the copies; ``null``: ``<source root>-reencoded`` beside the dataset.
        fps: Frame rate given to frame folders (VidTIMIT: 25); video files keep their own rate.
        num_workers: Processes that re-encode; ``null`` uses every core, 0 works in this process.

    Raises:
        SuiteError: A CRF outside 0-51, or no ``root`` for a source that has none.
    """

    def __init__(
        self,
        source: VideoSource,
        crfs: list[int] | None = None,
        root: str | None = None,
        fps: int = 25,
        num_workers: int | None = None,
    ) -> None:
        crfs = [23, 40] if crfs is None else list(crfs)
        bad = [c for c in crfs if not 0 <= int(c) <= 51]
        if not crfs or bad or len(set(crfs)) != len(crfs):
            raise SuiteError(
                f"data.init_args.source.init_args.crfs must be distinct x264 CRFs in 0-51, got {crfs}"
            )
        if root is None:
            source_root = getattr(source, "root", None)
            if source_root is None:
                raise SuiteError(
                    f"data.init_args.source.init_args.root: {type(source).__name__} has no root folder to "
                    "put the re-encoded copies beside; give one"
                )
            root = f"{Path(source_root)}-reencoded"
        if fps < 1:
            raise SuiteError(f"data.init_args.source.init_args.fps must be >= 1, got {fps}")
        self.source = source
        self.crfs = [int(c) for c in crfs]
        self.root = Path(root)
        self.fps = fps
        self.num_workers = num_workers
        self.identity_disjoint = source.identity_disjoint

    def copy_path(self, record: VideoRecord, crf: int) -> Path:
        """Where the CRF-``crf`` copy of ``record`` lives."""
        return self.root / f"crf{crf}" / f"{_safe_stem(record.video_id)}.mp4"

    def prepare(self) -> None:
        self.source.prepare()
        jobs = [
            (str(r.path), str(self.copy_path(r, crf)), crf, self.fps, r.video_id)
            for r in self.source.records()
            for crf in self.crfs
            if not self.copy_path(r, crf).is_file()
        ]
        workers = (os.cpu_count() or 1) if self.num_workers is None else self.num_workers
        if workers == 0 or len(jobs) <= 1:
            failures = [f for f in map(_reencode_job, jobs) if f]
        else:
            # Spawned, not forked: the caller may hold torch/Lightning threads.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
                failures = [f for f in pool.map(_reencode_job, jobs, chunksize=4) if f]
        self._write_report(failures)

    def records(self) -> list[VideoRecord]:
        copies = []
        for record in self.source.records():
            for crf in self.crfs:
                path = self.copy_path(record, crf)
                if path.is_file():
                    copies.append(
                        replace(
                            record,
                            video_id=f"{record.video_id}/crf{crf}",
                            path=path,
                            compression=_compression(record.compression, crf),
                        )
                    )
        if not copies:
            raise SuiteError(
                f"no re-encoded copies in {self.root}: they are made by prepare() (run through the CLI, "
                f"which calls it); see {self.root / REPORT_NAME} for videos that failed"
            )
        return copies

    def _write_report(self, failures: list[tuple[str, int, str]]) -> None:
        """``report.csv``: every copy that could not be made in this run, with its reason."""
        self.root.mkdir(parents=True, exist_ok=True)
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["video_id", "crf", "reason"])
        writer.writerows(sorted(failures))
        atomic_write_text(self.root / REPORT_NAME, table.getvalue())


def reencode_h264(source: Path, target: Path, crf: int, fps: int = 25) -> int:
    """Re-encode the video (or frame folder) ``source`` as H.264 at ``crf`` into ``target``.

    Frames are streamed, never held whole. Odd frame sizes lose their last row or column (4:2:0
    chroma needs even sizes). The file appears under its name only once complete.

    Returns:
        The number of frames written.

    Raises:
        VideoDecodeError: ``source`` is missing, empty, not a video, or yields no frame.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    written = 0
    try:
        frames, rate = _frames_and_rate(source, fps)
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = None
            for frame in frames:
                height, width = frame.shape[0] - frame.shape[0] % 2, frame.shape[1] - frame.shape[1] % 2
                if stream is None:
                    stream = container.add_stream("libx264", rate=rate, options={"crf": str(crf)})
                    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                    stream.codec_context.thread_count = 1  # parallelism comes from the pool
                rgb = np.ascontiguousarray(frame[:height, :width])
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
                written += 1
            if stream is None:
                raise VideoDecodeError(f"cannot decode video {source}: no frames could be decoded")
            container.mux(stream.encode(None))
        os.replace(tmp, target)
    except av.error.FFmpegError as error:
        raise VideoDecodeError(f"cannot re-encode video {source}: {error}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return written


def _frames_and_rate(source: Path, fps: int) -> tuple[Iterator[np.ndarray], int | Fraction]:
    if source.is_dir():
        files = frame_files(source)
        return (_read_frame(f) for f in files), fps
    container = _open(source)
    stream = container.streams.video[0]
    rate = stream.average_rate or fps

    def frames() -> Iterator[np.ndarray]:
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as error:
            raise VideoDecodeError(f"cannot decode video {source}: {error}") from None
        finally:
            container.close()

    return frames(), rate


def _reencode_job(job: tuple[str, str, int, int, str]) -> tuple[str, int, str] | None:
    source, target, crf, fps, video_id = job
    try:
        reencode_h264(Path(source), Path(target), crf, fps)
    except SuiteError as error:
        return video_id, crf, str(error)
    except Exception as error:  # one bad file must not stop the others
        return video_id, crf, f"unexpected {type(error).__name__} while re-encoding {source}: {error}"
    return None


def _safe_stem(video_id: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]+", "__", video_id).strip("._")[:120]
    return f"{readable}-{hashlib.sha256(video_id.encode('utf-8')).hexdigest()[:8]}"


def _compression(original: str, crf: int) -> str:
    return f"crf{crf}" if original in ("", "unknown", "raw") else f"{original}/crf{crf}"
