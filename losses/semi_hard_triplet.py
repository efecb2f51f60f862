r"""Triplet loss with online semi-hard negative mining (FaceNet, Schroff et al., CVPR 2015), as
TensorFlow's ``triplet_semihard_loss`` (tf.contrib, then TF-Addons) computes it. The metric-
learning deepfake paper (Kumar et al., 2020, eq. 1) and the attribution paper (Korshunov et al.,
2022) train with it.

Definition implemented, with :math:`D` the squared Euclidean distance by default (eq. 1 of both
FaceNet and Kumar et al.; TF-Addons' default ``"L_2"`` is squared too):

* every ordered pair (a, p) with the same label and a != p is one term;
* its negative :math:`n^*(a, p)` is the **closest negative farther than the positive**,
  :math:`\arg\min_n \{D_{an} : y_n \ne y_a,\ D_{an} > D_{ap}\}` (strict);
* if no negative is farther than the positive, :math:`n^*` is the **farthest negative**,
  :math:`\arg\max_n D_{an}`;
* the loss is the mean over all such pairs, zero terms included:

.. math::
    \mathcal{L} = \frac{1}{|\{(a,p)\}|} \sum_{(a,p)} \max\bigl(0,\ D_{ap} - D_{a n^*(a,p)} + \alpha\bigr).

FaceNet words the rule as "farther than the positive but within the margin"; TF does not test the
margin. Both readings give the same loss: when the closest farther negative lies beyond
:math:`D_{ap} + \alpha`, every farther one does, the term is 0 either way.

Where pytorch-metric-learning differs (``TripletMarginMiner(type_of_triplets="semihard")`` with
``TripletMarginLoss``): it keeps **every** negative with :math:`0 < D_{an} - D_{ap} \le` margin,
not one per pair, has no fallback for pairs without one, uses the non-squared distance on
L2-normalised embeddings by default, and averages over the triplets with non-zero loss only.

Degenerate batches: with no positive pair, or no negative at all (one class only), there is no
triplet and the loss is 0, still connected to the graph. (TF divides by zero in the first case
and, in the second, falls back to a "farthest negative" at distance 0, giving
:math:`\alpha + D_{ap}`.)

Embeddings are used as given; FaceNet L2-normalises them first, do that in the model if wanted.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def pairwise_distances(embeddings: Tensor, squared: bool = True) -> Tensor:
    """Euclidean distance matrix with an exact zero diagonal.

    Args:
        embeddings: (N, D).
        squared: squared distances if True.

    Returns:
        (N, N) distances; zero distances get a zero gradient in the non-squared case.
    """
    # The Gram form keeps memory at O(N^2) instead of the O(N^2 D) of explicit differences.
    sq_norms = (embeddings * embeddings).sum(dim=1)
    dist = (sq_norms[:, None] + sq_norms[None, :] - 2.0 * embeddings @ embeddings.T).clamp_min(0.0)
    dist = dist.masked_fill(torch.eye(len(embeddings), dtype=torch.bool, device=embeddings.device), 0.0)
    if squared:
        return dist
    positive = dist > 0
    return torch.where(positive, dist.clamp_min(torch.finfo(dist.dtype).tiny).sqrt(), 0.0)


def semi_hard_negatives(dist: Tensor, labels: Tensor) -> Tensor:
    """Index of the mined negative n*(a, p) for every (anchor, positive) pair.

    Args:
        dist: (N, N) distance matrix.
        labels: (N,) class labels.

    Returns:
        (N, N) long tensor: entry (a, p) is n*(a, p) for a positive pair, -1 elsewhere
        (a == p, different labels, or an anchor without negatives).
    """
    n = len(labels)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(n, dtype=torch.bool, device=dist.device)
    dist = dist.detach()
    # Non-negatives sort to the end; the first index with D_an > D_ap is the semi-hard one.
    neg_dist = dist.masked_fill(same, math.inf)
    sorted_dist, order = neg_dist.sort(dim=1)
    num_neg = (~same).sum(dim=1, keepdim=True)
    first_farther = torch.searchsorted(sorted_dist, dist, right=True)
    fallback = (num_neg - 1).clamp_min(0).expand(n, n)
    rank = torch.where(first_farther < num_neg, first_farther, fallback)
    negatives = order.gather(1, rank)
    valid = same & ~eye & (num_neg > 0)
    return torch.where(valid, negatives, -1)


class SemiHardTripletLoss(nn.Module):
    r"""FaceNet / TensorFlow semi-hard triplet loss mined inside the batch (see module docstring).

    .. math::
        \mathcal{L} = \operatorname{mean}_{(a,p):\ y_a = y_p,\ a \ne p}
            \max\bigl(0,\ D_{ap} - D_{a n^*(a,p)} + \alpha\bigr)

    Mining costs O(N^2 log N) time and O(N^2) memory (one sort per anchor), not TF's O(N^3).

    Args:
        margin: :math:`\alpha`, > 0. The default 1.0 is TF-Addons' (which both deepfake papers
            most likely used; neither states its value). FaceNet used 0.2 on unit-norm embeddings.
        squared: squared Euclidean distances (FaceNet, TF) if True, plain Euclidean otherwise.
    """

    def __init__(self, margin: float = 1.0, squared: bool = True) -> None:
        super().__init__()
        if not (margin > 0.0 and math.isfinite(margin)):
            raise ValueError(f"margin must be a finite number > 0, got {margin}")
        self.margin = margin
        self.squared = squared

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """Mean semi-hard triplet loss over all positive pairs of the batch.

        Args:
            embeddings: (N, D) embeddings.
            labels: (N,) class labels (any integer classes, e.g. 0 = real, 1..K methods).

        Returns:
            0-dim loss; 0 connected to the graph when the batch has no triplet.
        """
        if embeddings.ndim != 2 or labels.shape != (embeddings.shape[0],):
            raise ValueError(
                f"embeddings must be (N, D) and labels (N,), got embeddings {tuple(embeddings.shape)} "
                f"and labels {tuple(labels.shape)}"
            )
        if labels.dtype.is_floating_point:
            raise ValueError(f"labels must be integer class ids, got {labels.dtype}")
        dist = pairwise_distances(embeddings, self.squared)
        negatives = semi_hard_negatives(dist, labels)
        anchor, positive = (negatives >= 0).nonzero(as_tuple=True)
        if anchor.numel() == 0:
            return embeddings.sum() * 0.0
        negative = negatives[anchor, positive]
        terms = dist[anchor, positive] - dist[anchor, negative] + self.margin
        return terms.clamp_min(0.0).mean()

    def extra_repr(self) -> str:
        return f"margin={self.margin}, squared={self.squared}"
