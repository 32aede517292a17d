"""Trust figures: the lines drawn are the numbers in the results; bad input rejected."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from seis_keras.explain.trust import TrustSettings, judge
from seis_keras.explain.trust_checks import FaithfulnessResult, RandomisationResult
from seis_keras.plots import trust as P


def _results():
    rng = np.random.default_rng(0)
    layers = ["logits", "fc1", "conv1"]
    fr = np.linspace(0, 1, 5)
    out = []
    for name, sim in (("gradient", [0.9, 0.2, 0.05]), ("|x|", [1.0, 1.0, 1.0])):
        sims = np.asarray(sim)[:, None] + 0.01 * rng.normal(size=(3, 4))
        rand = RandomisationResult(layers, {"spearman_abs": sims, "spearman": sims})
        down = np.tile(1 - fr, (4, 1)) ** (3 if name == "gradient" else 1)
        faith = FaithfulnessResult(fr, down, np.tile(1 - fr, (4, 1)), 1 - down, np.tile(fr, (4, 1)))
        out.append(judge(name, randomisation=rand, faithfulness=faith,
                         settings=TrustSettings(randomisation_layer="fc1")))
    return out


def test_randomisation_curves_draw_the_means(tmp_path):
    res = _results()
    fig = P.randomisation_curves(res)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = [l for l in ax.lines if l.get_marker() == "o"]
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_ydata(), res[0].randomisation.mean("spearman_abs"))
    np.testing.assert_allclose(lines[1].get_ydata(), res[1].randomisation.mean("spearman_abs"))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]  # the legend sits below the axes
    assert "gradient (trusted)" in labels and "|x| (flagged: fails randomisation, faithfulness)" in labels
    assert [t.get_text() for t in ax.get_xticklabels()] == ["logits", "fc1", "conv1"]
    assert any(np.allclose(l.get_xdata(), 1) for l in ax.lines if l.get_linestyle() == "--")  # verdict layer
    fig.savefig(tmp_path / "r.png")
    assert "pass below 0.3" in labels and ax.get_title() == "cascading model randomisation"
    # another measure than the verdict's: drawn for reference, without the pass line
    other = P.randomisation_curves(res, kind="spearman")
    assert "pass below 0.3" not in [t.get_text() for t in other.legends[0].get_texts()]
    assert other.axes[0].get_title().endswith("(reported; the verdicts read spearman_abs)")
    with pytest.raises(ValueError, match="ssim"):
        P.randomisation_curves(res, kind="ssim")
    with pytest.raises(ValueError, match="no method has a randomisation result"):
        P.randomisation_curves([judge("none")])


def test_perturbation_curves_pair_each_method_with_its_random_order(tmp_path):
    res = _results()
    fig = P.perturbation_curves(res)
    deletion, insertion = fig.axes[:2]
    # both methods share one random baseline (same orders, same inputs): drawn once
    assert len(deletion.lines) == 3 and len(insertion.lines) == 3
    np.testing.assert_allclose(deletion.lines[0].get_ydata(), res[0].faithfulness.deletion.mean(axis=0))
    np.testing.assert_allclose(deletion.lines[1].get_ydata(), res[0].faithfulness.deletion_random.mean(axis=0))
    np.testing.assert_allclose(insertion.lines[2].get_ydata(), res[1].faithfulness.insertion.mean(axis=0))
    assert deletion.lines[1].get_linestyle() == "--" and deletion.lines[0].get_color() == deletion.lines[1].get_color()
    assert deletion.get_ylabel() == "target probability"           # what these curves hold
    res[1].faithfulness.deletion_random = res[1].faithfulness.deletion_random * 0.5
    assert len(P.perturbation_curves(res).axes[0].lines) == 4     # a different baseline gets its own line
    fig.savefig(tmp_path / "p.png")
    with pytest.raises(ValueError, match="no method has a faithfulness result"):
        P.perturbation_curves([judge("none")])
