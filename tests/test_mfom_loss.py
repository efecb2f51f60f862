"""MFoMLoss (Kukanov et al., eqs. 6-14) against the equations written out with loops."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from losses import MFoMLoss


def loop_mfom(
    class_scores: list[list[float]],
    labels: list[int],
    objective: str,
    p_target: float,
    eta: float,
    lam: float,
    alpha: float,
    beta: float,
) -> float:
    """Eqs. 6-14 literally: one-hot label vectors over (real, fake), units-vs-zeros psi of the fake
    class, smooth counter, rates over the target (fake) class, then eq. 13 or 14."""
    fn = fp = 0.0
    n_fake = sum(labels)
    n_real = len(labels) - n_fake
    for g, y in zip(class_scores, labels, strict=True):
        y_vec = [1 - y, y]
        k = 1  # the fake class
        # Eq. 7: the competing set is the zeros of y if y_k = 1, the units otherwise.
        competing = [j for j in range(2) if y_vec[j] == (0 if y_vec[k] == 1 else 1)]
        kolmogorov = math.log(sum(math.exp(eta * g[j]) for j in competing) / len(competing)) / eta
        psi = -g[k] + kolmogorov
        l_k = 1.0 / (1.0 + math.exp(-alpha * psi - beta))
        fn += l_k * y_vec[k]
        fp += (1.0 - l_k) * (1 - y_vec[k])
    p_miss = fn / n_fake if n_fake else 0.0
    p_fa = fp / n_real if n_real else 0.0
    if objective == "dcf":
        return p_target * p_miss + (1.0 - p_target) * p_fa
    return p_fa + lam * abs(p_miss - p_fa)


def batch(seed: int, n: int = 40, two_class: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=gen)
    labels[:2] = torch.tensor([0, 1])
    shape = (n, 2) if two_class else (n,)
    scores = torch.randn(shape, generator=gen, dtype=torch.float64) * 2.0
    if two_class:
        scores[:, 1] += labels
    else:
        scores += labels
    return scores, labels


def make(objective: str = "dcf", **kwargs: float) -> MFoMLoss:
    return MFoMLoss(objective, **kwargs).double()  # type: ignore[arg-type]


CONFIGS = [
    ("dcf", {"p_target": 0.01}),
    ("dcf", {"p_target": 0.1, "eta": 3.0, "alpha_init": 2.5, "beta_init": -0.7}),
    ("eer", {"lam": 0.5}),
    ("eer", {"lam": 2.0, "eta": 0.3, "alpha_init": 0.4, "beta_init": 1.2}),
]


@pytest.mark.parametrize(("objective", "kwargs"), CONFIGS)
@pytest.mark.parametrize("two_class", [False, True])
def test_matches_loop(objective: str, kwargs: dict[str, float], two_class: bool) -> None:
    scores, labels = batch(0, two_class=two_class)
    loss = make(objective, **kwargs)
    class_scores = scores.tolist() if two_class else [[0.0, z] for z in scores.tolist()]
    expected = loop_mfom(
        class_scores,
        labels.tolist(),
        objective,
        kwargs.get("p_target", 0.01),
        kwargs.get("eta", 1.0),
        kwargs.get("lam", 0.5),
        # The parameters were created in float32: compare against the values they hold.
        loss.alpha.item(),
        loss.beta.item(),
    )
    assert loss(scores, labels).item() == pytest.approx(expected, rel=1e-12)


def test_hand_values() -> None:
    logits, labels = torch.tensor([2.0, -1.0], dtype=torch.float64), torch.tensor([1, 0])
    sig = lambda x: 1.0 / (1.0 + math.exp(-x))  # noqa: E731
    # psi = -z: the fake (z = 2) is missed with weight sig(-2), the real (z = -1) raises a false
    # alarm with weight 1 - sig(1) = sig(-1).
    p_miss, p_fa = make().error_rates(logits, labels)
    assert (p_miss.item(), p_fa.item()) == pytest.approx((sig(-2.0), sig(-1.0)), rel=1e-12)
    assert make("dcf", p_target=0.05)(logits, labels).item() == pytest.approx(
        0.05 * sig(-2.0) + 0.95 * sig(-1.0), rel=1e-12
    )
    assert make("eer")(logits, labels).item() == pytest.approx(
        sig(-1.0) + 0.5 * abs(sig(-2.0) - sig(-1.0)), rel=1e-12
    )


def test_logit_input_equals_two_class_scores_zero_and_z() -> None:
    logits, labels = batch(1)
    two = torch.stack([torch.full_like(logits, 0.3), logits + 0.3], dim=1)  # only the gap matters
    loss = make("eer")
    torch.testing.assert_close(loss(logits, labels), loss(two, labels), rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("threshold", [-0.5, 0.0, 1.3])
def test_sharp_counter_gives_empirical_miss_and_false_alarm_rates(threshold: float) -> None:
    # With a large alpha, l = sigmoid(beta - alpha z) is the indicator of z < beta / alpha: the
    # rates must be eqs. 2-3 with fake as the target class at that logit threshold.
    logits, labels = batch(2, n=200)
    alpha = 1e6
    loss = make("dcf", alpha_init=alpha, beta_init=threshold * alpha)
    p_miss, p_fa = loss.error_rates(logits, labels)
    fakes, reals = logits[labels == 1], logits[labels == 0]
    assert p_miss.item() == pytest.approx((fakes < threshold).double().mean().item(), abs=1e-9)
    assert p_fa.item() == pytest.approx((reals >= threshold).double().mean().item(), abs=1e-9)


def test_alpha_and_beta_are_learnable_and_gradcheck() -> None:
    loss = make("eer", alpha_init=1.5, beta_init=0.2)
    assert {name for name, _ in loss.named_parameters()} == {"alpha", "beta"}
    scores, labels = batch(3, n=12, two_class=True)
    alpha = loss.alpha.detach().clone().requires_grad_(True)
    beta = loss.beta.detach().clone().requires_grad_(True)
    x = scores.clone().requires_grad_(True)

    def fn(s: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return functional_call(loss, {"alpha": a, "beta": b}, (s, labels))

    assert torch.autograd.gradcheck(fn, (x, alpha, beta))
    dcf = make("dcf")
    assert torch.autograd.gradcheck(
        lambda s, a, b: functional_call(dcf, {"alpha": a, "beta": b}, (s, labels)), (x, alpha, beta)
    )
    value = loss(scores, labels)
    value.backward()
    assert loss.alpha.grad is not None and loss.beta.grad is not None and loss.beta.grad != 0


@pytest.mark.parametrize("objective", ["dcf", "eer"])
def test_separated_scores_cost_less_and_gradient_pushes_fakes_up(objective: str) -> None:
    _, labels = batch(4)
    loss = make(objective, p_target=0.1)
    separated = torch.where(labels == 1, 6.0, -6.0).double()
    # Constant -0.5 puts P_miss > P_fa, away from the kink of eq. 14's |P_miss - P_fa|.
    constant = torch.full_like(separated, -0.5, requires_grad=True)
    assert loss(separated, labels).item() < 0.01 < loss(constant, labels).item()
    loss(constant, labels).backward()
    assert constant.grad is not None
    assert torch.all(constant.grad[labels == 1] < 0) and torch.all(constant.grad[labels == 0] > 0)


def test_eer_objective_balances_the_rates() -> None:
    # While P_miss < P_fa, eq. 14 is (1 + lam) P_fa - lam P_miss: it lowers P_fa and raises
    # P_miss towards it, pushing the fake logits down. The paper's objective, kept as is.
    labels = torch.tensor([1, 1, 0, 0])
    for lam in (0.5, 2.0):
        logits = torch.full((4,), 0.5, dtype=torch.float64, requires_grad=True)
        loss = make("eer", lam=lam)
        p_miss, p_fa = loss.error_rates(logits, labels)
        assert p_miss < p_fa
        loss(logits, labels).backward()
        assert logits.grad is not None
        assert torch.all(logits.grad[:2] > 0) and torch.all(logits.grad[2:] > 0)


def test_p_target_weights_misses() -> None:
    # A batch whose only errors are misses costs p_target * P_miss.
    logits = torch.tensor([-3.0, -3.0, -6.0, -6.0], dtype=torch.float64)
    labels = torch.tensor([1, 1, 0, 0])
    low, high = make("dcf", p_target=0.01), make("dcf", p_target=0.1)
    p_miss, p_fa = low.error_rates(logits, labels)
    assert low(logits, labels).item() == pytest.approx(0.01 * p_miss.item() + 0.99 * p_fa.item(), rel=1e-12)
    assert high(logits, labels) > low(logits, labels)


@pytest.mark.parametrize("objective", ["dcf", "eer"])
@pytest.mark.parametrize("label", [0, 1])
def test_single_class_batch_sets_the_absent_rate_to_zero(objective: str, label: int) -> None:
    logits = torch.randn(6, dtype=torch.float64, requires_grad=True)
    labels = torch.full((6,), label)
    loss = make(objective, p_target=0.05)
    value = loss(logits, labels)
    p_miss, p_fa = loss.error_rates(logits, labels)
    assert (p_fa if label == 1 else p_miss).item() == 0.0
    expected = loop_mfom(
        [[0.0, z] for z in logits.tolist()], labels.tolist(), objective, 0.05, 1.0, 0.5, 1.0, 0.0
    )
    assert value.item() == pytest.approx(expected, rel=1e-12) and value.item() > 0
    if objective == "dcf":
        assert value.item() == pytest.approx((0.05 * p_miss if label == 1 else 0.95 * p_fa).item(), rel=1e-12)
    else:
        assert value.item() == pytest.approx((0.5 * p_miss if label == 1 else 1.5 * p_fa).item(), rel=1e-12)
    value.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_float_and_bool_labels() -> None:
    scores, labels = batch(5)
    loss = make()
    assert torch.equal(loss(scores, labels.double()), loss(scores, labels))
    assert torch.equal(loss(scores, labels.bool()), loss(scores, labels))


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="objective"):
        MFoMLoss("auc")  # type: ignore[arg-type]
    for p_target in (0.0, 1.0, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="p_target"):
            MFoMLoss(p_target=p_target)
    for eta in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="eta"):
            MFoMLoss(eta=eta)
    for lam in (0.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match="lam"):
            MFoMLoss("eer", lam=lam)
    with pytest.raises(ValueError, match="alpha_init"):
        MFoMLoss(alpha_init=-1.0)
    with pytest.raises(ValueError, match="beta_init"):
        MFoMLoss(beta_init=float("inf"))
    loss = MFoMLoss()
    with pytest.raises(ValueError, match=r"\(N, 2\).*\(4, 3\)"):
        loss(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        loss(torch.randn(4), torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="labels must be 0"):
        loss(torch.randn(3), torch.tensor([0, 1, 2]))
