"""Classifiers that turn an embedding space into attribution classes and fake scores.

The attribution paper (Korshunov et al., ICASSP 2022, Sec. 2.1) converts the TripletLoss and
ArcFaceMod embeddings "into ten classes by training another set of classifiers: k-nearest neighbor
(NN), logistic regression (LR), and support vector machine (SVM)", trained on embeddings of the
**validation** set, with k = 14, "0.001 as the regularization parameter for logistic regression,
and 0.01 as the regularization parameter for SVM". Those are scikit-learn's ``C`` here (SVC's
documentation calls ``C`` "the regularization parameter"; smaller means stronger regularisation).
The paper tuned them by grid search on its test set; this suite takes its values as given and
tunes nothing on test data.

Fake score of a classifier: ``1 - p(real)`` where it gives probabilities (kNN, LR); for the SVM,
the one-vs-rest decision value of the best fake class minus that of the real class (``SVC`` with
``probability=True`` would add a 5-fold Platt calibration that ranks no better; AUC and HTER need
a ranking and a threshold, not a probability).

Thresholds need validation scores of the same classifiers. Scoring the validation embeddings with
classifiers fitted on them is optimistic, most of all for kNN: a frame's nearest neighbours are
itself and the other frames of its own video. :class:`EmbeddingClassifiers` therefore scores each
validation frame with a classifier fitted on the other folds, folds grouped by video
(``folds=1`` gives the in-sample scores instead).

:class:`NearestCentroidScorer` is the classifier-free score the module reports every validation
epoch for the TripletLoss head: class centroids of the validation embeddings and a softmax over
negative squared distances.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
from torch import Tensor

REAL_CLASS = 0
CLASSIFIER_NAMES: tuple[str, ...] = ("knn", "logreg", "svm")


def make_classifiers(
    knn_k: int = 14, logreg_c: float = 1e-3, svm_c: float = 1e-2, svm_kernel: str = "rbf", seed: int = 0
) -> dict[str, ClassifierMixin]:
    """Unfitted ``{"knn", "logreg", "svm"}`` with the paper's settings.

    Args:
        knn_k: Neighbours of the kNN (paper: 14).
        logreg_c: ``C`` of the logistic regression (paper: 0.001).
        svm_c: ``C`` of the SVM (paper: 0.01).
        svm_kernel: SVM kernel; the paper does not say, scikit-learn's default is ``rbf``.
        seed: Random state of the estimators that use one.
    """
    for name, value in (("knn_k", knn_k), ("logreg_c", logreg_c), ("svm_c", svm_c)):
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    return {
        "knn": KNeighborsClassifier(n_neighbors=knn_k),
        "logreg": LogisticRegression(C=logreg_c, max_iter=1000, random_state=seed),
        "svm": SVC(C=svm_c, kernel=svm_kernel, decision_function_shape="ovr", random_state=seed),
    }


def _has_both_kinds(classes: np.ndarray) -> bool:
    values = set(np.unique(classes).tolist())
    return REAL_CLASS in values and len(values) >= 2


def fit_classifier(estimator: ClassifierMixin, embeddings: np.ndarray, classes: np.ndarray) -> Any:
    """A fitted clone of ``estimator``; a kNN asks for at most as many neighbours as samples.

    Args:
        estimator: Unfitted scikit-learn classifier.
        embeddings: (N, D).
        classes: (N,) attribution classes, 0 = real.
    """
    model: Any = clone(estimator)
    if isinstance(model, KNeighborsClassifier):
        model.set_params(n_neighbors=min(model.n_neighbors, len(classes)))
    return model.fit(embeddings, classes)


def fake_scores(model: Any, embeddings: np.ndarray) -> np.ndarray:
    """(N,) float64 fake score of a fitted classifier, higher = more fake.

    ``1 - p(real)`` for classifiers with ``predict_proba``; otherwise the decision value of the best
    fake class minus the real class's (two classes: the signed decision value towards the fake).
    A model that never saw the real class scores everything 1 (it can only say fake).
    """
    classes = list(model.classes_)
    if REAL_CLASS not in classes:
        return np.ones(len(embeddings))
    real = classes.index(REAL_CLASS)
    if hasattr(model, "predict_proba"):
        return 1.0 - np.asarray(model.predict_proba(embeddings), dtype=np.float64)[:, real]
    decision = np.asarray(model.decision_function(embeddings), dtype=np.float64)
    if decision.ndim == 1:  # two classes: positive means classes[1]
        return decision if real == 0 else -decision
    return np.delete(decision, real, axis=1).max(axis=1) - decision[:, real]


def out_of_fold_fake_scores(
    estimator: ClassifierMixin, embeddings: np.ndarray, classes: np.ndarray, groups: np.ndarray, folds: int
) -> np.ndarray:
    """Fake score of every sample from a classifier fitted without its group (video).

    Folds keep each group whole and the classes in proportion (``StratifiedGroupKFold``). A fold
    whose training part lacks the real class or every fake class cannot be fitted; its samples
    get the in-sample score of the classifier fitted on everything.

    Args:
        estimator: Unfitted classifier.
        embeddings: (N, D).
        classes: (N,) attribution classes, 0 = real.
        groups: (N,) video of each sample.
        folds: Number of folds; fewer if there are fewer groups; <= 1 gives in-sample scores.

    Returns:
        (N,) float64 scores.
    """
    full = fit_classifier(estimator, embeddings, classes)
    n_splits = min(folds, len(np.unique(groups)))
    if n_splits < 2:
        return fake_scores(full, embeddings)
    scores = np.empty(len(classes), dtype=np.float64)
    with warnings.catch_warnings():
        # Small classes (fewer videos than folds) are expected on small validation sets.
        warnings.filterwarnings("ignore", message=".*least populated class.*", category=UserWarning)
        splits = list(StratifiedGroupKFold(n_splits=n_splits).split(embeddings, classes, groups))
    for train, held_out in splits:
        if _has_both_kinds(classes[train]):
            model = fit_classifier(estimator, embeddings[train], classes[train])
        else:
            model = full
        scores[held_out] = fake_scores(model, embeddings[held_out])
    return scores


class EmbeddingClassifiers:
    """kNN, logistic regression and SVM fitted on validation embeddings, scoring other embeddings.

    Args:
        knn_k: kNN neighbours (paper: 14).
        logreg_c: Logistic regression ``C`` (paper: 0.001).
        svm_c: SVM ``C`` (paper: 0.01).
        svm_kernel: SVM kernel (scikit-learn's default ``rbf``).
        folds: Folds (grouped by video) of the out-of-fold validation scores that thresholds are
            set on; 1 for in-sample scores.
        seed: Random state of the estimators.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = np.concatenate([rng.normal(0, 1, (20, 4)), rng.normal(3, 1, (20, 4))])
        >>> y, videos = np.repeat([0, 1], 20), np.arange(40) // 4
        >>> classifiers = EmbeddingClassifiers(knn_k=5).fit(x, y, videos)
        >>> sorted(classifiers.val_scores), classifiers.fake_scores(x[:1])["knn"].shape
        (['knn', 'logreg', 'svm'], (1,))
    """

    def __init__(
        self,
        knn_k: int = 14,
        logreg_c: float = 1e-3,
        svm_c: float = 1e-2,
        svm_kernel: str = "rbf",
        folds: int = 5,
        seed: int = 0,
    ) -> None:
        self.estimators = make_classifiers(knn_k, logreg_c, svm_c, svm_kernel, seed)
        self.folds = folds
        self.models: dict[str, Any] = {}
        #: Validation fake scores per classifier, (N,) each (out-of-fold unless ``folds`` <= 1).
        self.val_scores: dict[str, np.ndarray] = {}

    def fit(self, embeddings: np.ndarray, classes: np.ndarray, groups: np.ndarray) -> EmbeddingClassifiers:
        """Fit every classifier on validation embeddings and score them for thresholds.

        Args:
            embeddings: (N, D) validation embeddings.
            classes: (N,) attribution classes, 0 = real.
            groups: (N,) video of each embedding (folds keep videos whole).

        Raises:
            ValueError: if the real class or every fake class is missing.
        """
        embeddings, classes, groups = np.asarray(embeddings), np.asarray(classes), np.asarray(groups)
        if not _has_both_kinds(classes):
            raise ValueError(
                "classifiers need real (class 0) and fake embeddings, got classes "
                f"{np.unique(classes).tolist()}"
            )
        for name, estimator in self.estimators.items():
            self.models[name] = fit_classifier(estimator, embeddings, classes)
            self.val_scores[name] = out_of_fold_fake_scores(
                estimator, embeddings, classes, groups, self.folds
            )
        return self

    def fake_scores(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        """(N,) float64 fake score of every classifier."""
        return {name: fake_scores(model, np.asarray(embeddings)) for name, model in self.models.items()}

    def predict(self, name: str, embeddings: np.ndarray) -> np.ndarray:
        """(N,) attribution class predicted by classifier ``name``."""
        return np.asarray(self.models[name].predict(np.asarray(embeddings)))


class NearestCentroidScorer:
    r"""Class centroids of validation embeddings and the log-odds of fake they imply.

    With :math:`d_k = \lVert x - \mu_k \rVert^2` the squared distance to the centroid of class
    :math:`k` (0 = real), the fake score is the log-odds of "any fake class" under
    :math:`p(k \mid x) \propto e^{-d_k}`:

    .. math::
        \operatorname{score}(x) = \log \sum_{k \ge 1} e^{-d_k} - (-d_0).

    Only classes present in the fitted data have a centroid. Without a real or without any fake
    centroid the score is 0 for every sample (no information), never an error: a one-class
    validation batch (``fast_dev_run``) must not stop a run.

    Example:
        >>> scorer = NearestCentroidScorer().fit(torch.tensor([[0.0], [2.0]]), torch.tensor([0, 1]))
        >>> scorer.fake_log_odds(torch.tensor([[0.0], [2.0]]))  # -(4) - 0 and 0 - (-4)
        tensor([-4.,  4.])
    """

    def __init__(self) -> None:
        self.classes: Tensor | None = None
        self.centroids: Tensor | None = None

    def fit(self, embeddings: Tensor, classes: Tensor) -> NearestCentroidScorer:
        """Args: embeddings (N, D); classes (N,) attribution classes, 0 = real."""
        present = torch.unique(classes)
        self.classes = present
        self.centroids = torch.stack([embeddings[classes == c].float().mean(0) for c in present])
        return self

    @property
    def informative(self) -> bool:
        """Whether both a real and a fake centroid exist."""
        return self.classes is not None and bool((self.classes == REAL_CLASS).any()) and len(self.classes) > 1

    def _neg_sq_distances(self, embeddings: Tensor) -> Tensor:
        if self.centroids is None:
            raise RuntimeError("NearestCentroidScorer.fit() must be called first")
        centroids = self.centroids.to(embeddings.device)
        return -torch.cdist(embeddings.float(), centroids).square()

    def fake_log_odds(self, embeddings: Tensor) -> Tensor:
        """(N,) float32 log-odds of fake; zeros if the fit lacked a real or a fake class."""
        if not self.informative:
            return torch.zeros(len(embeddings), device=embeddings.device)
        assert self.classes is not None
        logits = self._neg_sq_distances(embeddings)
        is_real = (self.classes == REAL_CLASS).to(embeddings.device)
        return torch.logsumexp(logits[:, ~is_real], dim=1) - logits[:, is_real][:, 0]

    def predict(self, embeddings: Tensor) -> Tensor:
        """(N,) class of the nearest centroid."""
        assert self.classes is not None
        return self.classes.to(embeddings.device)[self._neg_sq_distances(embeddings).argmax(dim=1)]
