r"""MFoM-DCF and MFoM-EER objectives (Kukanov et al., "Cost Sensitive Optimization of Deepfake
Detector", APSIPA 2020, eqs. 6-14) for the binary real/fake task.

Paper notation and how it maps here:

* :math:`g_k` (discriminant functions, Sec. III-A) are the network's class scores. The input is
  either an (N, 2) tensor ``[g_real, g_fake]`` (column = label index) or the suite's usual (N,)
  fake logit :math:`z`, read as the two-class logits :math:`(g_\text{real}, g_\text{fake}) = (0, z)`
  (a sigmoid on :math:`z` equals a softmax on :math:`(0, z)`).
* The target class of the DCF, :math:`y_\text{tar}` in eqs. 1-3, is **fake** (label 1); P and N
  are the numbers of fakes and reals in the batch, which plays the role of the training set
  :math:`\mathbb{T}`.
* The sums :math:`\sum_{k=1}^{M}` of eqs. 11-12 run over the target class only (M = 1, k = fake),
  the real score being the competing model of eq. 6. Summing over both classes of a two-class
  output would count every error twice, once as a miss of one class and once as a false alarm of
  the other, so that :math:`\hat P_\text{miss} = \hat P_\text{fa}` and :math:`P_\text{tar}` in
  eq. 13 would change nothing.

Eqs. 6-7, units-vs-zeros: for k = fake the competing set :math:`\mathbf{I}` is {real} whether the
sample is fake (zeros of its label vector) or real (units), so

.. math::
    \psi = -g_\text{fake} + \frac{1}{\eta} \ln\Bigl(\frac{1}{|\mathbf{I}|}
        \sum_{j \in \mathbf{I}} e^{\eta g_j}\Bigr) = g_\text{real} - g_\text{fake}
    \quad (= -z \text{ for an (N,) logit}).

:math:`\eta` cancels because the Kolmogorov mean of one value is that value; it is kept, and
validated, to follow eq. 6. Eq. 8, the smooth error counter, with learnable scalars
:math:`\alpha, \beta` (``nn.Parameter``), and eqs. 11-14:

.. math::
    l = \frac{1}{1 + e^{-\alpha\psi - \beta}}, \quad
    \hat P_\text{miss} = \frac{\sum_{y_i = 1} l_i}{P}, \quad
    \hat P_\text{fa} = \frac{\sum_{y_i = 0} (1 - l_i)}{N},

.. math::
    E_\text{DCF} = P_\text{tar} \hat P_\text{miss} + (1 - P_\text{tar}) \hat P_\text{fa}, \qquad
    E_\text{EER} = \hat P_\text{fa} + \lambda \,|\hat P_\text{miss} - \hat P_\text{fa}|.

:math:`E_\text{EER}` rewards equal rates, not only low ones: while
:math:`\hat P_\text{miss} < \hat P_\text{fa}` it equals
:math:`(1 + \lambda)\hat P_\text{fa} - \lambda \hat P_\text{miss}`, whose gradient also pushes
fake scores down until the two rates meet.

For an (N,) logit, :math:`l = \sigma(\beta - \alpha z)` is a soft count of :math:`z < \beta/\alpha`:
as :math:`\alpha \to \infty` the rates become the empirical P_miss and P_fa of eqs. 2-3 at the
logit threshold :math:`\beta/\alpha`, so :math:`\beta` learns the operating point. Eqs. 9-10 say
that :math:`\alpha, \beta` are trained by backpropagation; autograd differentiates eq. 8 exactly
(eqs. 9-10 as printed leave out the sigmoid's derivative :math:`l(1 - l)` and carry the opposite
sign, so they are not hand-coded).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

_OBJECTIVES = ("dcf", "eer")


def _misclassification_measure(scores: Tensor, eta: float) -> Tensor:
    """Eqs. 6-7 for the fake class: psi = -g_fake + Kolmogorov mean of the competing (real) score.

    Args:
        scores: (N, 2) class scores, column 0 real, column 1 fake.
        eta: smoothing constant of the Kolmogorov mean, > 0.

    Returns:
        (N,) psi, <= 0 where the sample is scored fake.
    """
    competing = scores[:, :1]
    log_mean_exp = torch.logsumexp(eta * competing, dim=1) - math.log(competing.shape[1])
    return -scores[:, 1] + log_mean_exp / eta


class MFoMLoss(nn.Module):
    r"""MFoM-DCF (eq. 13) or MFoM-EER (eq. 14) with a learnable smooth error counter (eq. 8).

    See the module docstring for the full equations and the notation mapping. ``alpha`` and
    ``beta`` are parameters of this module: give them to the optimizer with the network's.

    Args:
        objective: ``"dcf"`` for :math:`E_\text{DCF}` (eq. 13) or ``"eer"`` for
            :math:`E_\text{EER}` (eq. 14).
        p_target: prior of the target (fake) class :math:`P_\text{tar}` in (0, 1); the paper uses
            0.1, 0.05 and 0.01. Only ``"dcf"`` uses it.
        eta: smoothing constant of eq. 6, > 0 (1 in the paper); it cancels for two classes.
        lam: Lagrange multiplier :math:`\lambda` of eq. 14, > 0 (0.5 in the paper); a negative
            value would reward unequal error rates. Only ``"eer"`` uses it.
        alpha_init: initial scale :math:`\alpha` of eq. 8, > 0 (a negative scale would count
            correct decisions as errors).
        beta_init: initial shift :math:`\beta` of eq. 8.

    Example:
        >>> loss = MFoMLoss("dcf", p_target=0.05)
        >>> loss(torch.tensor([2.0, -1.0]), torch.tensor([1, 0]))  # 0.05 sig(-2) + 0.95 sig(-1)
        tensor(0.2615, grad_fn=<AddBackward0>)
    """

    def __init__(
        self,
        objective: Literal["dcf", "eer"] = "dcf",
        p_target: float = 0.01,
        eta: float = 1.0,
        lam: float = 0.5,
        alpha_init: float = 1.0,
        beta_init: float = 0.0,
    ) -> None:
        super().__init__()
        if objective not in _OBJECTIVES:
            raise ValueError(f"objective must be one of {_OBJECTIVES}, got {objective!r}")
        if not 0.0 < p_target < 1.0:
            raise ValueError(f"p_target must satisfy 0 < p_target < 1 (a prior of fakes), got {p_target}")
        if not (eta > 0.0 and math.isfinite(eta)):
            raise ValueError(f"eta must be a finite number > 0 (eq. 6), got {eta}")
        if not (lam > 0.0 and math.isfinite(lam)):
            raise ValueError(f"lam must be a finite number > 0 (eq. 14), got {lam}")
        if not (alpha_init > 0.0 and math.isfinite(alpha_init)):
            raise ValueError(f"alpha_init must be a finite number > 0 (eq. 8), got {alpha_init}")
        if not math.isfinite(beta_init):
            raise ValueError(f"beta_init must be finite, got {beta_init}")
        self.objective = objective
        self.p_target = p_target
        self.eta = eta
        self.lam = lam
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
        self.beta = nn.Parameter(torch.tensor(float(beta_init)))

    def error_rates(self, scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        r"""Smoothed :math:`(\hat P_\text{miss}, \hat P_\text{fa})` of eqs. 11-12.

        Args:
            scores: (N,) fake logits, or (N, 2) class scores ``[g_real, g_fake]``.
            labels: (N,) labels in {0, 1} (bool, int or float), 1 = fake = target.

        Returns:
            Two 0-dim tensors. A class absent from the batch has rate 0 (its error sum is
            empty), so the result is never NaN and only the present class gets gradients.
        """
        two_class = self._two_class_scores(scores)
        if scores.shape[0] != labels.shape[0] or labels.ndim != 1:
            raise ValueError(
                f"labels must have shape ({scores.shape[0]},) to match scores {tuple(scores.shape)}, "
                f"got {tuple(labels.shape)}"
            )
        if bool(((labels != 0) & (labels != 1)).any()):
            raise ValueError("labels must be 0 (real) or 1 (fake)")
        is_fake = labels == 1
        psi = _misclassification_measure(two_class, self.eta)
        counter = torch.sigmoid(self.alpha * psi + self.beta)
        n_fake = is_fake.sum().clamp_min(1)
        n_real = (~is_fake).sum().clamp_min(1)
        p_miss = torch.where(is_fake, counter, 0.0).sum() / n_fake
        p_fa = torch.where(is_fake, 0.0, 1.0 - counter).sum() / n_real
        return p_miss, p_fa

    def forward(self, scores: Tensor, labels: Tensor) -> Tensor:
        r""":math:`E_\text{DCF}` or :math:`E_\text{EER}` on the batch.

        Args:
            scores: (N,) fake logits, or (N, 2) class scores ``[g_real, g_fake]``.
            labels: (N,) labels in {0, 1}, 1 = fake = target.

        Returns:
            0-dim loss in [0, 1] for ``"dcf"``. A batch with one class only gives the formula
            with the absent class's rate at 0: ``(1 - p_target) * P_fa`` for all-real and
            ``p_target * P_miss`` for all-fake under ``"dcf"``; ``(1 + lam) * P_fa`` and
            ``lam * P_miss`` under ``"eer"``.
        """
        p_miss, p_fa = self.error_rates(scores, labels)
        if self.objective == "dcf":
            return self.p_target * p_miss + (1.0 - self.p_target) * p_fa
        return p_fa + self.lam * (p_miss - p_fa).abs()

    @staticmethod
    def _two_class_scores(scores: Tensor) -> Tensor:
        """(N,) fake logits -> (N, 2) ``[0, z]``; (N, 2) passes through."""
        if scores.ndim == 1:
            return torch.stack([torch.zeros_like(scores), scores], dim=1)
        if scores.ndim == 2 and scores.shape[1] == 2:
            return scores
        raise ValueError(
            f"scores must be (N,) fake logits or (N, 2) class scores [real, fake], got {tuple(scores.shape)}"
        )

    def extra_repr(self) -> str:
        return f"objective={self.objective!r}, p_target={self.p_target}, eta={self.eta}, lam={self.lam}"
