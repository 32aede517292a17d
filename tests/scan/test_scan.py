"""Tests of seis_keras.scan: window alignment, time stamps, gaps, detections, a trained detector."""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json

import numpy as np
import obspy
import pandas as pd
import pytest
from obspy import UTCDateTime
from tensorflow import keras

from seis_keras.models import contract_of
from seis_keras.scan import (InputContract, add_scan_command, find_detections, match_detections,
                             probability_table, run_scan, scan)

FS = 20.0


def spike_model(lo: int = 200, hi: int = 300, n: int = 500) -> keras.Model:
    """Logit +50 when some |x| >= 1 sample lies in window samples [lo, hi), else -50 (x near 0)."""
    x_in = keras.Input((n, 3))
    x = keras.layers.Cropping1D((lo, n - hi))(x_in)
    x = keras.layers.Multiply()([x, x])
    x = keras.layers.GlobalMaxPooling1D()(x)
    out = keras.layers.Dense(1, name="logits")(x)
    model = keras.Model(x_in, out, name="spike")
    model.get_layer("logits").set_weights([np.full((3, 1), 100.0, np.float32), np.array([-50.0], np.float32)])
    return model


def spike_stream(n: int, spikes, rate: float = FS, start="2020-01-01T00:00:00") -> obspy.Stream:
    st = obspy.Stream()
    for comp in "ENZ":
        data = np.zeros(n, np.float32)
        if comp == "Z":
            data[list(spikes)] = 1.0
        tr = obspy.Trace(data)
        tr.stats.network, tr.stats.station, tr.stats.channel = "XX", "SPK", f"HH{comp}"
        tr.stats.sampling_rate, tr.stats.starttime = rate, UTCDateTime(start)
        st.append(tr)
    return st


DETECTOR_CONTRACT = contract_of("detector")
RAW = InputContract(sampling_rate=FS, window_samples=500, transforms=())


def test_obspy_example_trace_length_and_stamps():
    st = obspy.read()  # BW.RJOB EH?, 100 Hz, 30 s
    model = keras.Sequential([keras.Input((500, 3)), keras.layers.GlobalAveragePooling1D(),
                              keras.layers.Dense(1, name="logits")], name="tiny")
    res = scan(model, st, stride_s=1.0)
    (tr,) = res.probabilities
    n20 = int(np.floor((min(t.stats.endtime for t in st) - max(t.stats.starttime for t in st)) * FS)) + 1
    assert tr.stats.npts == (n20 - 500) // 20 + 1 == 6
    assert tr.stats.sampling_rate == pytest.approx(1.0)
    assert abs(tr.stats.starttime - (st[0].stats.starttime + 12.5)) < 1e-6  # window centre
    assert np.all((tr.data > 0) & (tr.data < 1))
    res2 = scan(model, st, stride_s=1.0, time_reference="start")
    assert abs(res2.probabilities[0].stats.starttime - st[0].stats.starttime) < 1e-6
    np.testing.assert_allclose(res2.probabilities[0].data, tr.data)
    import seis_keras  # the package itself is callable, as the issue asks: seis_keras.scan(model, stream)

    res3 = seis_keras.scan(model, st, stride_s=1.0)
    np.testing.assert_array_equal(res3.probabilities[0].data, tr.data)


def test_window_alignment_and_detection_times_are_exact():
    n = 20 * 60 * 5  # 5 min at 20 Hz
    spike = 3000
    res = scan(spike_model(), spike_stream(n, [spike]), stride_s=0.5, contract=RAW, min_gap_s=0.0)
    p = res.probabilities[0].data
    k = np.arange(len(p))
    expected = (spike >= k * 10 + 200) & (spike < k * 10 + 300)  # windows holding the spike in [200, 300)
    assert len(p) == (n - 500) // 10 + 1
    np.testing.assert_array_equal(p > 0.5, expected)
    (det,) = res.detections.itertuples()
    t0 = UTCDateTime("2020-01-01T00:00:00")
    first, last = np.flatnonzero(expected)[[0, -1]]
    assert UTCDateTime(det.start_time) == t0 + first * 0.5
    assert UTCDateTime(det.end_time) == t0 + last * 0.5 + 25.0
    assert det.n_windows == expected.sum() == 10
    assert t0 + spike / FS >= UTCDateTime(det.start_time) and t0 + spike / FS <= UTCDateTime(det.end_time)


def test_resampling_keeps_timing_and_gaps_are_masked():
    # 100 Hz record: spike at 150.0 s; a gap from 60 s to 70 s in every component
    n = 100 * 300
    st = spike_stream(n, range(14998, 15003), rate=100.0)  # a 50 ms boxcar survives the 20 Hz resampling
    for tr in list(st):
        a, b = tr.copy(), tr.copy()
        a.trim(tr.stats.starttime, tr.stats.starttime + 60.0 - 0.01)
        b.trim(tr.stats.starttime + 70.0, tr.stats.endtime)
        st.remove(tr)
        st += obspy.Stream([a, b])
    res = scan(spike_model(), st, stride_s=1.0, contract=RAW, min_gap_s=0.0, threshold=0.5)
    p = res.probabilities[0].data
    k = np.arange(len(p))
    gap_hit = (k * 20 + 500 > 60 * 20) & (k * 20 < 70 * 20)  # 20 Hz gap samples 1200..1399
    assert np.isnan(p[gap_hit]).all() and not np.isnan(p[~gap_hit]).any()
    assert gap_hit.sum() == 34
    (det,) = res.detections.itertuples()
    t0 = UTCDateTime("2020-01-01T00:00:00")
    # the spike's 20 Hz sample is 3000 (resampling is centred): windows with 200 <= 3000 - 20k < 300
    assert UTCDateTime(det.start_time) == t0 + 136.0 and UTCDateTime(det.end_time) == t0 + 140.0 + 25.0
    filled = scan(spike_model(), st, stride_s=1.0, contract=RAW, gap_policy="fill").probabilities[0].data
    assert not np.isnan(filled).any() and np.allclose(filled[~gap_hit], p[~gap_hit])


def test_find_detections_merges_runs_closer_than_min_gap():
    p = np.zeros(100)
    p[10:13] = 0.9
    p[16:18] = 0.7   # 3 windows later: gap from end of window 12 (12+5=17 s) to 16 s is -1 s -> merged
    p[60] = 0.6
    p[61] = np.nan
    t0 = UTCDateTime(0)
    det = find_detections(p, threshold=0.5, window_s=5.0, stride_s=1.0, min_gap_s=0.0, start=t0)
    assert len(det) == 2
    assert UTCDateTime(det.start_time[0]) == t0 + 10 and UTCDateTime(det.end_time[0]) == t0 + 17 + 5
    assert det.n_windows.tolist() == [5, 1] and det.peak_probability[0] == pytest.approx(0.9)
    assert UTCDateTime(det.peak_time[0]) == t0 + 10 + 2.5
    # window 2 s: the first run ends at 12 + 2 = 14 s, the second starts at 16 s: 2 s apart
    sep = find_detections(p, threshold=0.5, window_s=2.0, stride_s=1.0, min_gap_s=1.5, start=t0)
    assert len(sep) == 3
    merged = find_detections(p, threshold=0.5, window_s=2.0, stride_s=1.0, min_gap_s=2.5, start=t0)
    assert len(merged) == 2


def test_match_detections_counts():
    det = pd.DataFrame({"start_time": ["2020-01-01T00:00:10", "2020-01-01T00:01:00"],
                        "end_time": ["2020-01-01T00:00:40", "2020-01-01T00:01:20"]})
    m = match_detections(det, ["2020-01-01T00:00:20", "2020-01-01T00:05:00"])
    assert m["recall"] == 0.5 and m["n_false_alarms"] == 1 and m["event_found"] == [True, False]
    m2 = match_detections(det, ["2020-01-01T00:00:20", "2020-01-01T00:00:50"],
                          event_ends=["2020-01-01T00:00:30", "2020-01-01T00:01:05"])
    assert m2["recall"] == 1.0 and m2["n_false_alarms"] == 0


def test_bad_inputs_raise_clear_errors(tmp_path):
    model = spike_model()
    with pytest.raises(ValueError, match="stride_s=0.33"):
        scan(model, spike_stream(2000, [5]), stride_s=0.33, contract=RAW)
    two = obspy.Stream([t for t in spike_stream(2000, [5]) if not t.stats.channel.endswith("N")])
    with pytest.raises(ValueError, match="component 'N' missing"):
        scan(model, two, contract=RAW)
    with pytest.raises(ValueError, match="does not match the contract"):
        scan(model, spike_stream(2000, [5]), contract=InputContract(window_samples=400, transforms=()))
    with pytest.raises(ValueError, match="transforms"):
        InputContract(transforms=("Whiten",))
    model.save(tmp_path / "model.h5", save_format="h5")
    (tmp_path / "input_contract.json").write_text("{not json")
    with pytest.raises(ValueError, match="input_contract.json: not valid JSON"):
        scan(tmp_path, spike_stream(2000, [5]))
    nan = spike_stream(2000, [5])
    nan[2].data[100] = np.nan
    with pytest.raises(ValueError, match="XX.SPK..HHZ: 1 NaN/inf samples"):
        scan(model, nan, contract=RAW)


@pytest.fixture(scope="module")
def trained_detector():
    """A detector trained for a few epochs on built-in windows (MaxNormalize, the paper's contract)."""
    from seis_keras.data.synthetic import detector_data
    from seis_keras.models import get_model

    X, meta = detector_data(2400, seed=3, realism=None)  # the clean windows, as the clean continuous record
    X = DETECTOR_CONTRACT.transform()(X)
    keras.utils.set_random_seed(0)
    model = get_model("detector")
    model.compile(keras.optimizers.SGD(1e-2, momentum=0.9), keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(X, meta["label"].to_numpy(), batch_size=64, epochs=8, verbose=0)
    return model


def _scan_before_the_speed_ups(monkeypatch, *args, **kwargs):
    """scan() through the path before data.resampling and scan/fused.py: obspy's own
    Trace.resample of every trace, the contract's numpy normalisation, the model's own layers."""
    import seis_keras.data.records as records
    import seis_keras.scan as scan_pkg
    from seis_keras.scan.model import _Predictor

    def obspy_resample(traces, fs, *settings):
        out = []
        for t in traces:
            t = t.copy()
            t.data = t.data.astype(np.float64)
            out.append(t.resample(fs, window="hann", no_filter=True))
        return out

    with monkeypatch.context() as m:
        m.setattr(records, "resample_traces", obspy_resample)
        m.setattr(scan_pkg, "_predictor",
                  lambda model, kind, bs, transforms=(): _Predictor(model, kind, bs, fuse=False))
        return scan(*args, **kwargs)


def test_trained_detector_finds_the_events_of_a_continuous_record(trained_detector, tmp_path, monkeypatch):
    from seis_keras.data.synthetic import detector_continuous

    st, events = detector_continuous(1200, 6, seed=11)  # 100 Hz: scan resamples to 20 Hz
    res = scan(trained_detector, st, stride_s=2.5, threshold=0.5, min_gap_s=5.0)
    (tr,) = res.probabilities
    before = _scan_before_the_speed_ups(monkeypatch, trained_detector, st, stride_s=2.5, threshold=0.5, min_gap_s=5.0)
    # resampled within 1e-13 of obspy (tests/data/test_ingest.py), the same forward pass: probabilities within
    # 1e-6 (bit for bit on this machine), the same detections
    np.testing.assert_allclose(before.probabilities[0].data, tr.data, rtol=0, atol=1e-6)
    pd.testing.assert_frame_equal(before.detections, res.detections)
    assert len(res.detections) >= 5
    assert tr.stats.npts == (1200 * 20 - 500) // 50 + 1
    score = match_detections(res.detections, events["p_time"], event_ends=events["coda_end_time"])
    print("recall", score["recall"], "false alarms", score["n_false_alarms"], "detections", score["n_detections"])
    assert score["recall"] >= 5 / 6
    assert score["n_false_alarms"] <= 2
    # every event's P onset lies inside its detection, within one window of the detection start
    for p_time, found in zip(events["p_time"], score["event_found"]):
        if found:
            t = UTCDateTime(p_time)
            ok = [(UTCDateTime(s) - 25.0 <= t <= UTCDateTime(e)) for s, e in
                  zip(res.detections.start_time, res.detections.end_time)]
            assert any(ok)

    # the same scan from a saved model + stored contract, and through the command line
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    trained_detector.save(model_dir / "model.h5", save_format="h5")
    (model_dir / "input_contract.json").write_text(json.dumps(DETECTOR_CONTRACT.to_json()))
    again = scan(model_dir / "model.h5", st, stride_s=2.5)
    np.testing.assert_allclose(again.probabilities[0].data, tr.data, atol=1e-5)
    mseed = tmp_path / "rec.mseed"
    st.write(str(mseed), format="MSEED")
    parser = argparse.ArgumentParser()
    add_scan_command(parser.add_subparsers())
    args = parser.parse_args(["scan", "--model", str(model_dir / "model.h5"), "--stream", str(mseed),
                              "--out", str(tmp_path / "out")])
    assert args.func(args) == 0
    table = pd.read_csv(tmp_path / "out" / "probabilities.csv")
    np.testing.assert_allclose(table["earthquake"].to_numpy(), tr.data, atol=1e-4)
    assert len(pd.read_csv(tmp_path / "out" / "detections.csv")) == len(res.detections)
    assert run_scan is args.func

    # an export_model folder (h5 first) and the plain serving SavedModel give the same probabilities
    from seis_keras.train.export import export_model

    paths = export_model(trained_detector, tmp_path / "exported")
    (tmp_path / "exported" / "input_contract.json").write_text(json.dumps(DETECTOR_CONTRACT.to_json()))
    np.testing.assert_allclose(scan(tmp_path / "exported", st).probabilities[0].data, tr.data, atol=1e-5)
    served = scan(paths["savedmodel"], st)
    assert served.settings["output"] == "probabilities"
    assert served.settings["contract"]["transforms"] == ["MaxNormalize"]
    np.testing.assert_allclose(served.probabilities[0].data, tr.data, atol=1e-5)
    assert len(probability_table(res.probabilities)) == tr.stats.npts


def test_multiclass_model_gives_one_softmax_trace_per_class():
    x_in = keras.Input((500, 3))
    out = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling1D()(x_in))
    model = keras.Model(x_in, out, name="three")
    contract = InputContract(window_samples=500, transforms=("MaxNormalize",), class_names=("noise", "pre", "post"))
    res = scan(model, obspy.read(), stride_s=1.0, contract=contract, threshold=0.0)
    assert [tr.stats.channel for tr in res.probabilities] == ["three_noise", "three_pre", "three_post"]
    total = np.sum([tr.data for tr in res.probabilities], axis=0)
    np.testing.assert_allclose(total, 1.0, rtol=1e-5)
    assert sorted(set(res.detections["class"])) == ["post", "pre"]  # the first class is taken as background
    with pytest.raises(ValueError, match="2 names for 3 model outputs"):
        scan(model, obspy.read(), contract=InputContract(window_samples=500, class_names=("a", "b")))


def test_strided_batched_windows_equal_copied_windows_and_scan_results():
    """The zero-copy window view and the batched normalisation give what copying, normalising and
    predicting one window at a time gives (a planted-event record)."""
    from seis_keras.data.synthetic import detector_continuous
    from seis_keras.models import get_model
    from seis_keras.scan import prepare_stream
    from seis_keras.scan.windows import window_probabilities, window_view

    stream, events = detector_continuous(900.0, n_events=4, seed=3)
    (sta,) = prepare_stream(stream, DETECTOR_CONTRACT)
    data, step, n_win = sta["data"], 50, 500
    starts = np.arange(0, len(data) - n_win + 1, step)
    copied = np.stack([data[s:s + n_win].copy() for s in starts])  # (N, T, C) one copy per window
    view = window_view(data, n_win, step)
    assert view.shape == (len(starts), 3, n_win) and np.shares_memory(view, data)
    np.testing.assert_array_equal(view.transpose(0, 2, 1), copied)

    keras.utils.set_random_seed(0)
    model = get_model("detector")
    norm = DETECTOR_CONTRACT.transform()
    assert DETECTOR_CONTRACT.transforms == ("MaxNormalize",)
    expected_x = copied / (np.abs(copied).max(axis=(1, 2), keepdims=True) + 1e-12)  # written out per window
    expected = 1.0 / (1.0 + np.exp(-model.predict(expected_x, batch_size=len(expected_x), verbose=0)[:, 0]))
    calls = []

    def predictor(x):
        calls.append(len(x))
        return 1.0 / (1.0 + np.exp(-model(x, training=False).numpy()))

    batched = window_probabilities(predictor, norm, data, n_win, step, 64)
    assert calls == [64] * (len(starts) // 64) + [len(starts) % 64]  # batch after batch, the last one short
    np.testing.assert_allclose(batched[:, 0], expected, rtol=1e-5, atol=1e-6)

    res = scan(model, stream, stride_s=2.5, batch_size=64)  # the public path: compiled predictor, padded last batch
    (tr,) = res.probabilities
    assert tr.stats.npts == len(starts)
    np.testing.assert_allclose(tr.data, expected, rtol=1e-5, atol=1e-6)


def test_fused_forward_pass_equals_the_models_own_layers():
    """scan/fused.py folds each ZeroPadding1D into the next Conv1D: the scan's predictor uses it for
    chain models and gives the model's outputs bit for bit; other models run as they are."""
    import tensorflow as tf

    from seis_keras.models import get_model
    from seis_keras.scan.fused import fused_forward
    from seis_keras.scan.model import _predictor, _Predictor

    x = np.random.default_rng(4).normal(size=(64, 500, 3)).astype(np.float32)
    keras.utils.set_random_seed(1)
    detector = get_model("detector")
    fused = fused_forward(detector)
    assert fused is not None
    np.testing.assert_array_equal(tf.function(fused)(x).numpy(), detector(x, training=False).numpy())
    graph = tf.function(fused).get_concrete_function(tf.TensorSpec((64, 500, 3), tf.float32)).graph
    ops = [op.type for op in graph.get_operations()]
    assert "Pad" not in ops and "PadV2" not in ops and ops.count("Conv2D") == 7  # the 7 pads are gone
    predictor = _predictor(detector, "auto", 64)
    assert predictor.fused
    np.testing.assert_array_equal(predictor(x), _Predictor(detector, "auto", 64, fuse=False)(x))  # the old path

    # asymmetric padding, a strided conv with its own activation, ReLU, a 'same' dilated conv, pooling, dense
    chain = keras.Sequential([keras.Input((500, 3)), keras.layers.ZeroPadding1D((2, 1)),
                              keras.layers.Conv1D(5, 4, strides=3, activation="tanh"), keras.layers.ReLU(),
                              keras.layers.Conv1D(2, 3, padding="same", dilation_rate=2),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    np.testing.assert_allclose(tf.function(fused_forward(chain))(x).numpy(), chain(x).numpy(), rtol=1e-6, atol=1e-7)
    inp = keras.Input((500, 3))
    residual = keras.Model(inp, keras.layers.Add()([keras.layers.Conv1D(3, 3, padding="same")(inp), inp]))
    assert fused_forward(residual) is None and fused_forward(spike_model()) is None  # not chains: run as they are
    assert not _predictor(spike_model(), "auto", 8).fused


def test_normalisation_in_the_compiled_pass_equals_the_contracts_numpy_transform():
    """scan normalises MaxNormalize windows inside the compiled pass: the same float32 numbers as
    data.transforms.MaxNormalize (windows of very different amplitudes, an all-zero window, another eps);
    transforms without an exact TF version are left to numpy."""
    import tensorflow as tf

    from seis_keras.data.transforms import Demean, MaxNormalize
    from seis_keras.scan import prepare_stream
    from seis_keras.scan.fused import graph_transform
    from seis_keras.scan.model import _predictor

    rng = np.random.default_rng(6)
    x = (rng.normal(size=(32, 500, 3)) * rng.uniform(1e-6, 1e4, size=(32, 1, 1))).astype(np.float32)
    x[3] = 0.0
    for specs, numpy_version in ((("MaxNormalize",), MaxNormalize()), (("MaxNormalize(eps=0.5)",), MaxNormalize(0.5))):
        np.testing.assert_array_equal(tf.function(graph_transform(specs))(x).numpy(), numpy_version(x))
    assert graph_transform(("Demean", "MaxNormalize")) is None
    assert np.array_equal(graph_transform(())(x), x)

    model = keras.Sequential([keras.Input((500, 3)), keras.layers.GlobalMaxPooling1D(),
                              keras.layers.Dense(1, name="logits")], name="peak")
    in_graph = _predictor(model, "auto", 32, ("MaxNormalize",))
    assert in_graph.transforms == ("MaxNormalize",)
    np.testing.assert_array_equal(in_graph(x), _predictor(model, "auto", 32)(MaxNormalize()(x)))
    with pytest.raises(ValueError, match="no exact TensorFlow version"):
        _predictor(model, "auto", 32, ("Demean",))
    # a contract with a numpy-only transform still scans (normalised in numpy, as before)
    res = scan(model, obspy.read(), stride_s=1.0, contract=InputContract(window_samples=500,
                                                                         transforms=("Demean", "MaxNormalize")))
    (sta,) = prepare_stream(obspy.read(), DETECTOR_CONTRACT)
    windows = np.stack([sta["data"][s:s + 500] for s in range(0, len(sta["data"]) - 499, 20)])
    expected = 1 / (1 + np.exp(-model(MaxNormalize()(Demean()(windows))).numpy()[:, 0]))
    np.testing.assert_allclose(res.probabilities[0].data, expected, rtol=1e-6)
