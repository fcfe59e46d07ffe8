"""Class factors: fitted on validation images, kept in the card, applied to every prediction."""

import json
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccdnb.cli import main
from ccdnb.errors import CcdnbInputError
from ccdnb.predict.class_factors import (
    FactoredPredictor,
    apply_class_factors,
    class_factors_from_card,
)
from ccdnb.training.class_factors import (
    _confusion,
    _grid_confusions,
    confusion_of,
    f1_scores,
    fit_class_factors,
    group_probabilities,
    macro_f1,
)


def _weighted_posteriors(n, weights, seed):
    """Pixels of four classes told apart by one feature; the network's output is the Bayes
    posterior multiplied by ``weights`` (what a loss weighted by class learns), renormalised."""
    rng = np.random.default_rng(seed)
    priors = np.array([0.9, 0.04, 0.03, 0.03])
    truth = rng.choice(4, size=n, p=priors)
    means = np.array([0.0, 2.0, 4.0, 6.0])
    x = rng.normal(means[truth], 1.0)
    posterior = priors * np.exp(-0.5 * (x[:, None] - means) ** 2)
    biased = posterior * np.asarray(weights)
    return (biased / biased.sum(axis=1, keepdims=True)).astype(np.float32), truth


def _objective(groups, log_factors):
    return float(np.mean([macro_f1(_confusion(g, log_factors)) for g in groups]))


def test_the_fit_undoes_a_class_weighted_loss():
    """Weighting class c by w_c in the loss multiplies its probability by w_c: the factors
    fitted on the weighted output are those fitted on the plain posterior divided by the
    weights (relative to background's), and they raise the macro F1."""
    weights = np.array([0.2, 3.0, 5.0, 3.0])

    def fitted(w):
        groups = [group_probabilities(f"g{k}", *_weighted_posteriors(40000, w, seed=k),
                                      span=5.0) for k in range(2)]
        return groups, fit_class_factors(groups, span=5.0)

    _, plain = fitted(np.ones(4))
    groups, weighted = fitted(weights)
    assert weighted.factors[0] == 1.0
    assert np.all(weighted.factors[1:] < 0.5)  # the over-weighted classes pulled back
    transferred = np.log(plain.factors * weights[0] / weights)
    # a search that ends in a local optimum may differ from the transferred factors, but
    # not for the worse
    assert weighted.objective_after >= _objective(groups, transferred) - 0.002
    assert weighted.objective_after > weighted.objective_before + 0.03
    # the recorded objective is that of the factors, counted pixel by pixel
    assert weighted.objective_after == pytest.approx(
        _objective(groups, np.log(weighted.factors)), abs=1e-12)


def test_against_a_reference_the_fit_loses_least_anywhere():
    """A network trained with class weights reads like the plain one multiplied by them:
    held to the plain network's F1, its factors give back every class's F1 (within the
    grid), where the mean-F1 fit would trade one class for another."""
    weights = np.array([0.2, 3.0, 5.0, 3.0])
    plain = [group_probabilities(f"g{k}", *_weighted_posteriors(30000, np.ones(4), seed=k),
                                 span=4.0) for k in range(3)]
    reference = np.array([f1_scores(confusion_of(g)) for g in plain])
    groups = [group_probabilities(f"g{k}", *_weighted_posteriors(30000, weights, seed=k),
                                  span=4.0) for k in range(3)]
    fit = fit_class_factors(groups, reference=reference, span=4.0)
    change = fit.f1_after - reference
    assert np.nanmin(change) >= -0.005
    assert np.nanmin(fit.f1_before - reference) < -0.03  # what the weights cost before
    assert "reference" in fit.objective_name and fit.card_entry()["f1_reference"]


def test_within_a_tolerance_the_fit_gains_most_losing_no_more_than_it():
    """Held to its own F1 within 0.01, a network's factors raise its mean macro F1 while no
    class on any group falls more than 0.01; without the tolerance the mean-F1 fit gains
    more by letting one fall further."""
    groups = [group_probabilities(f"g{k}", *_weighted_posteriors(30000, [0.2, 3.0, 5.0, 3.0],
                                                                 seed=k), span=4.0)
              for k in range(3)]
    reference = np.array([f1_scores(confusion_of(g)) for g in groups])
    held = fit_class_factors(groups, reference=reference, tolerance=0.01, span=4.0)
    free = fit_class_factors(groups, span=4.0)
    assert np.nanmin(held.f1_after - reference) >= -0.01
    assert np.nanmin(free.f1_after - reference) < -0.01
    mean = [_objective(groups, np.log(fit.factors)) for fit in (held, free)]
    assert mean[1] > mean[0] > _objective(groups, np.zeros(4))
    assert "more than 0.01 below" in held.objective_name


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), step=st.sampled_from([0.1, 0.25, 0.5]))
def test_no_single_factor_on_the_grid_beats_the_fit(seed, step):
    """Coordinate ascent ends where no one factor's move on the grid scores higher: checked
    by counting every move's pixels anew (the fit evaluates a whole grid at once)."""
    rng = np.random.default_rng(seed)
    groups = []
    for k in range(2):
        n = 3000
        p = rng.dirichlet(np.full(4, 0.3), size=n).astype(np.float32)
        truth = np.where(rng.random(n) < 0.7, np.argmax(p, axis=1), rng.integers(0, 4, n))
        groups.append(group_probabilities(f"g{k}", p, truth, span=1.5))
    fit = fit_class_factors(groups, span=1.5, step=step)
    best = np.log(fit.factors)
    assert fit.objective_after >= fit.objective_before - 1e-12
    assert fit.objective_after == pytest.approx(_objective(groups, best), abs=1e-12)
    steps = np.arange(-round(3 / step), round(3 / step) + 1) * step
    for cls in range(4):
        for shift in steps:
            moved = best.copy()
            moved[cls] += shift
            if np.ptp(moved) > 3 + 1e-9:  # beyond the searched span
                continue
            assert _objective(groups, moved) <= fit.objective_after + 1e-9


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), cls=st.integers(0, 3))
def test_a_whole_grid_is_counted_as_each_point_alone(seed, cls):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(4, 0.5), size=2000).astype(np.float32)
    group = group_probabilities("g", p, rng.integers(0, 4, 2000), span=1.0)
    offsets = rng.uniform(-1, 1, 4)
    grid = np.linspace(-1, 1, 41)
    each = []
    for value in grid:
        moved = offsets.copy()
        moved[cls] = value
        each.append(_confusion(group, moved))
    assert np.array_equal(_grid_confusions(group, offsets, cls, grid), np.array(each))


def test_pixels_no_factor_can_move_are_counted_once():
    p = np.array([[0.999999, 1e-7, 1e-7, 8e-7], [0.4, 0.3, 0.2, 0.1]], dtype=np.float32)
    group = group_probabilities("g", p, np.array([0, 1]), span=2.5)
    assert group.fixed.sum() == 1 and group.fixed[0, 0] == 1
    assert group.truth.tolist() == [1]


def test_factors_scale_and_renormalise():
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(4), size=(50, 7)).astype(np.float32)
    factors = np.array([1.0, 2.0, 0.25, 3.0], dtype=np.float32)
    out = apply_class_factors(p.copy(), factors)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-6)
    assert np.array_equal(np.argmax(out, axis=-1), np.argmax(p * factors, axis=-1))
    zero = apply_class_factors(np.zeros((2, 4), np.float32), factors)
    assert np.array_equal(zero, np.zeros((2, 4)))


def test_card_factors_are_read_and_checked():
    assert class_factors_from_card({}) is None
    np.testing.assert_allclose(class_factors_from_card({"class_factors": [1, 2, 0.5, 1]}),
                               [1, 2, 0.5, 1])
    np.testing.assert_allclose(
        class_factors_from_card({"class_factors": {"factors": [1, 1.5, 1, 0.7]}}),
        [1, 1.5, 1, 0.7])
    for bad in ([1, 2, 3], [1, -1, 1, 1], [1, float("nan"), 1, 1], "x", {"factors": None}):
        with pytest.raises(CcdnbInputError, match="class_factors"):
            class_factors_from_card({"class_factors": bad})


@pytest.fixture()
def model_copy(tmp_path):
    """The shipped model and its export, copied so that its card may change."""
    from ccdnb.model import DEFAULT_MODEL, card_path
    from ccdnb.predict.onnx_export import onnx_path

    for source in (DEFAULT_MODEL, onnx_path(DEFAULT_MODEL), card_path(DEFAULT_MODEL)):
        shutil.copy(source, tmp_path / source.name)
    return tmp_path / DEFAULT_MODEL.name


def _set_factors(model_path, factors):
    from ccdnb.model import card_path

    card_file = card_path(model_path)
    card = json.loads(card_file.read_text())
    card["class_factors"] = {"factors": factors}
    card_file.write_text(json.dumps(card))


def test_prediction_applies_the_card_factors_and_the_header_records_them(model_copy, tmp_path):
    from astropy.io import fits
    from predict_helpers import detector_image

    from ccdnb.predict import predict_file, predict_image
    from ccdnb.predict.runtime import load_predictor

    image = detector_image((160, 200), seed=2)
    bare, _ = load_predictor(model_copy, class_factors=False)
    _, raw = predict_image(bare, image, probabilities=True, skip_stages=("signal_floor",))
    factors = [1.0, 3.0, 0.2, 5.0]
    _set_factors(model_copy, factors)
    factored, _ = load_predictor(model_copy)
    assert isinstance(factored, FactoredPredictor)
    assert factored.runtime == bare.runtime  # the engine's attributes pass through
    mask, probs = predict_image(factored, image, probabilities=True,
                                skip_stages=("signal_floor",))
    np.testing.assert_allclose(probs, apply_class_factors(raw.copy(), factors), atol=1e-5)
    assert not np.array_equal(mask, np.argmax(raw, axis=-1))

    path = tmp_path / "frame.fits"
    fits.PrimaryHDU(image).writeto(path)
    out = predict_file(path, out_dir=tmp_path / "out", model=str(model_copy))
    header = fits.getheader(out)
    assert header["CCDNBCF"] == "1,3,0.2,5"
    assert any("class factors 1,3,0.2,5" in str(line) for line in header["HISTORY"])


def test_class_factors_command_records_and_removes(model_copy, tmp_path, capsys):
    from ccdnb.model import card_path
    from ccdnb.simulation import save_dataset, simulate_dataset

    data = []
    for preset, seed in (("thesis", 11), ("damic", 12)):
        path = tmp_path / f"{preset}.npz"
        save_dataset(path, simulate_dataset(preset, n=2, shape=(64, 64), seed=seed))
        data.append(str(path))
    assert main(["class-factors", str(model_copy), "--data", *data, "--step", "0.1",
                 "--write"]) == 0
    printed = capsys.readouterr().out
    assert "class factors: background 1" in printed and "damic" in printed
    card = json.loads(card_path(model_copy).read_text())
    entry = card["class_factors"]
    assert len(entry["factors"]) == 4 and entry["factors"][0] == 1.0
    assert entry["objective_after"] >= entry["objective_before"]
    assert entry["data"] == data and "--write" in entry["command"]
    assert card["architecture"] == "small"  # the rest of the card kept
    assert main(["class-factors", str(model_copy), "--remove"]) == 0
    assert "class_factors" not in json.loads(card_path(model_copy).read_text())
    # held to itself, a model's factors lose on no class of any group
    assert main(["class-factors", str(model_copy), "--data", *data, "--step", "0.1",
                 "--reference", str(model_copy), "--write"]) == 0
    entry = json.loads(card_path(model_copy).read_text())["class_factors"]
    assert "--reference" in entry["command"] and entry["reference_model"] == str(model_copy)
    for group, after in entry["f1_after"].items():
        for name, value in after.items():
            ref = entry["f1_reference"][group][name]
            if value is not None and ref is not None:
                assert value >= ref - 1e-9


def test_class_factors_command_refuses_bad_input_with_one_line(model_copy, tmp_path, capsys):
    from astropy.io import fits
    from predict_helpers import detector_image

    from ccdnb.model import card_path

    card_text = card_path(model_copy).read_text()
    assert main(["class-factors", str(model_copy), "--data", str(tmp_path / "none.npz"),
                 "--write"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.npz" in err[0]
    assert card_path(model_copy).read_text() == card_text  # untouched
    assert main(["class-factors", str(model_copy)]) == 2
    assert main(["class-factors", str(model_copy), "--data", "x.npz", "--step", "0"]) == 2
    capsys.readouterr()
    # a card with a factor that is not positive: prediction refuses it in one line
    _set_factors(model_copy, [1, 0, 1, 1])
    path = tmp_path / "frame.fits"
    fits.PrimaryHDU(detector_image((64, 64))).writeto(path)
    assert main(["predict", str(path), "--model", str(model_copy),
                 "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "class_factors" in err[0]
    assert not (tmp_path / "out" / "frame.masks.fits").exists()
