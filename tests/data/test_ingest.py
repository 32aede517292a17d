"""Tests for seis_keras.data.ingest: obspy streams -> windows -> store."""
import warnings
from pathlib import Path

import numpy as np
import obspy
import pandas as pd
import pytest

from seis_keras.data.ingest import _fft_window, component_of, ingest, read_picks, resample_trace, stream_to_windows
from seis_keras.data.resampling import fft_resample

RATE = 100.0


@pytest.fixture
def rjob():
    """obspy's example: BW.RJOB EHZ/EHN/EHE, 100 Hz, 30 s, starting 2009-08-24T00:20:03."""
    return obspy.read()


def _with_gap(st, t_from=12.0, t_to=14.0):
    """The stream with the data between t_from and t_to seconds (exclusive) removed."""
    t0 = st[0].stats.starttime
    a = st.copy().trim(endtime=t0 + t_from - 0.5 / RATE)
    b = st.copy().trim(starttime=t0 + t_to)
    return a + b


def _source(st, channel):
    return st.select(channel=channel)[0].data.astype(np.float64)


def test_sliding_windows_equal_the_source(rjob):
    waves, meta = stream_to_windows(rjob, sampling_rate=RATE, component_order="ENZ", window_s=10, stride_s=5)
    assert waves.shape == (5, 1000, 3) and waves.dtype == np.float32
    for i in range(5):
        for j, cha in enumerate(("EHE", "EHN", "EHZ")):
            np.testing.assert_array_equal(waves[i, :, j], _source(rjob, cha)[500 * i:500 * i + 1000].astype(np.float32))
    assert meta["trace_start_time"].tolist()[:2] == ["2009-08-24T00:20:03.000000Z", "2009-08-24T00:20:08.000000Z"]
    assert set(meta["station_network_code"]) == {"BW"} and set(meta["station_code"]) == {"RJOB"}
    assert not meta["trace_gap_filled"].any()
    assert (meta["trace_sampling_rate_hz"] == RATE).all()


def test_gap_reject_drops_windows_touching_the_gap(rjob):
    st = _with_gap(rjob)  # gap 12.0-14.0 s
    waves, meta = stream_to_windows(st, sampling_rate=RATE, window_s=5, stride_s=5, gap_policy="reject")
    starts = [obspy.UTCDateTime(t) - rjob[0].stats.starttime for t in meta["trace_start_time"]]
    assert starts == [0, 5, 15, 20, 25]  # the window 10-15 s touches the gap
    rejected = meta.attrs["rejected_windows"]
    assert len(rejected) == 1 and rejected[0]["reason"] == "gap of 200 samples"
    assert obspy.UTCDateTime(rejected[0]["trace_start_time"]) - rjob[0].stats.starttime == 10
    z = _source(rjob, "EHZ")
    for w, s in zip(waves, starts):
        np.testing.assert_array_equal(w[:, 2], z[int(s * RATE):int(s * RATE) + 500].astype(np.float32))


@pytest.mark.parametrize("gap_fill", ["zeros", "interpolate"])
def test_gap_fill_keeps_and_flags_windows(rjob, gap_fill):
    st = _with_gap(rjob)
    waves, meta = stream_to_windows(st, sampling_rate=RATE, window_s=5, stride_s=5,
                                    gap_policy="fill", gap_fill=gap_fill)
    assert len(waves) == 6
    assert meta["trace_gap_filled"].tolist() == [False, False, True, False, False, False]
    assert meta["trace_gap_samples"].tolist()[2] == 200
    w = waves[2]  # 10-15 s; gap at samples 200..399 of the window
    for j, cha in enumerate(("EHE", "EHN", "EHZ")):
        x = _source(rjob, cha)[1000:1500]
        outside = np.r_[0:200, 400:500]
        np.testing.assert_array_equal(w[outside, j], x[outside].astype(np.float32))
        if gap_fill == "zeros":
            assert np.all(w[200:400, j] == 0)
        else:  # straight line between the samples bounding the gap
            line = np.interp(np.arange(200, 400), [199, 400], [x[199], x[400]])
            np.testing.assert_allclose(w[200:400, j], line, rtol=1e-6, atol=1e-3)


def test_fill_with_resampling_matches_each_resampled_piece(rjob):
    st = _with_gap(rjob)
    waves, meta = stream_to_windows(st, sampling_rate=50, window_s=30, stride_s=30, gap_policy="fill")
    assert waves.shape == (1, 1500, 3) and meta["trace_gap_filled"].tolist() == [True]
    for piece in st.select(channel="EHN"):
        ref = piece.copy()
        ref.data = ref.data.astype(np.float64)
        ref.resample(50, window="hann")
        i0 = int(round((ref.stats.starttime - rjob[0].stats.starttime) * 50))
        np.testing.assert_allclose(waves[0, i0:i0 + ref.stats.npts, 1], ref.data.astype(np.float32), rtol=1e-6)
    assert np.all(waves[0, 600:700, :] == 0)  # 12-14 s at 50 Hz


def test_resampling_length_rate_and_waveform():
    t = np.arange(3000) / RATE
    tr = obspy.Trace(np.sin(2 * np.pi * 2.0 * t), header={"sampling_rate": RATE, "station": "S", "channel": "HHZ"})
    st = obspy.Stream([tr.copy() for _ in range(3)])
    for c, t_ in zip("ENZ", st):
        t_.stats.channel = "HH" + c
    for method in ("resample", "interpolate"):
        waves, meta = stream_to_windows(st, sampling_rate=40, window_s=10, stride_s=10, resample_method=method)
        assert waves.shape == (3, 400, 3) and (meta["trace_sampling_rate_hz"] == 40).all()
        truth = np.sin(2 * np.pi * 2.0 * (np.arange(400) / 40 + 10))  # the second window, away from edges
        assert np.max(np.abs(waves[1, :, 2] - truth)) < 0.02, method


def test_numbered_channels_map_to_n_and_e(rjob):
    st = rjob.copy()
    for tr in st:
        tr.stats.channel = {"EHN": "BH1", "EHE": "BH2", "EHZ": "BHZ"}[tr.stats.channel]
    waves, _ = stream_to_windows(st, sampling_rate=RATE, component_order="ENZ", window_s=30)
    np.testing.assert_array_equal(waves[0, :, 0], _source(rjob, "EHE").astype(np.float32))  # E <- BH2
    np.testing.assert_array_equal(waves[0, :, 1], _source(rjob, "EHN").astype(np.float32))  # N <- BH1
    swapped, _ = stream_to_windows(st, sampling_rate=RATE, component_order="ENZ", window_s=30,
                                   numbered_components={"1": "E", "2": "N"})
    np.testing.assert_array_equal(swapped[0, :, 0], waves[0, :, 1])
    kept, _ = stream_to_windows(st, sampling_rate=RATE, component_order="12Z", window_s=30)
    np.testing.assert_array_equal(kept[0, :, 0], waves[0, :, 1])
    explicit, _ = stream_to_windows(rjob, sampling_rate=RATE, component_order="ZNE", window_s=30,
                                    channel_map={"EHE": "Z", "EHZ": "E"})
    np.testing.assert_array_equal(explicit[0, :, 0], _source(rjob, "EHE").astype(np.float32))
    assert component_of("HHZ", "ZNE") == "Z"


def test_bad_channel_mapping_and_missing_component_name_the_trace(rjob):
    st = rjob.copy()
    st[0].stats.channel = "EHX"
    with pytest.raises(ValueError, match=r"BW\.RJOB\.\.EHX.*no component"):
        stream_to_windows(st, sampling_rate=RATE, window_s=5)
    with pytest.raises(ValueError, match=r"BW\.RJOB\.: component 'E' missing"):
        stream_to_windows(rjob.select(channel="EH[NZ]"), sampling_rate=RATE, window_s=5, source="x.mseed")
    with pytest.raises(ValueError, match="gap_policy"):
        stream_to_windows(rjob, sampling_rate=RATE, window_s=5, gap_policy="skip")


def test_nan_samples_name_the_source_and_component(rjob):
    st = rjob.copy()
    for tr in st:
        tr.data = tr.data.astype(np.float64)
    st.select(channel="EHN")[0].data[1234] = np.nan  # in the third 5 s window
    with pytest.raises(ValueError, match=r"^x\.mseed: BW\.RJOB\. component 'N': NaN/inf samples in the window "
                                         r"starting 2009-08-24T00:20:13"):
        stream_to_windows(st, sampling_rate=RATE, component_order="ENZ", window_s=5, source="x.mseed")


def test_windows_around_picks_place_the_pick(rjob):
    t0 = rjob[0].stats.starttime
    picks = pd.DataFrame({"station": ["RJOB", "BW.RJOB", "OTHER"],
                          "time": [str(t0 + 8.37), str(t0 + 11.2), str(t0 + 5)],
                          "phase": ["P", "S", "P"], "source_id": ["ev1", "ev1", "ev2"]})
    waves, meta = stream_to_windows(rjob, sampling_rate=RATE, window_s=10, picks=picks.iloc[:1], pick_offset_s=3)
    assert len(meta) == 1 and meta["trace_p_arrival_sample"].iloc[0] == 300
    z = _source(rjob, "EHZ")
    assert waves[0, 300, 2] == np.float32(z[837])  # sample at the pick time
    assert obspy.UTCDateTime(meta["trace_start_time"].iloc[0]) == t0 + 5.37
    # both picks of RJOB: each gets a window; each carries the other pick
    waves, meta = stream_to_windows(rjob, sampling_rate=RATE, window_s=10, picks=picks, pick_offset_s=3)
    assert len(meta) == 2
    assert meta["trace_p_arrival_sample"].tolist() == [300.0, 17.0]  # S window starts at 8.2 s
    assert meta["trace_s_arrival_sample"].tolist() == [583.0, 300.0]
    assert meta["source_id"].tolist() == ["ev1", "ev1"]
    # sliding windows: picks annotate the windows they fall in
    _, meta = stream_to_windows(rjob, sampling_rate=RATE, window_s=5, stride_s=5, picks=picks)
    assert meta["trace_p_arrival_sample"].iloc[1] == 337 and meta["trace_s_arrival_sample"].iloc[2] == 120
    assert meta["trace_p_arrival_sample"].isna().sum() == 5


def test_pick_window_outside_the_data_is_a_gap(rjob):
    t0 = rjob[0].stats.starttime
    picks = pd.DataFrame({"station": ["RJOB"], "time": [str(t0 + 1.0)]})
    waves, meta = stream_to_windows(rjob, sampling_rate=RATE, window_s=10, picks=picks, pick_offset_s=3)
    assert len(waves) == 0 and len(meta.attrs["rejected_windows"]) == 1
    waves, meta = stream_to_windows(rjob, sampling_rate=RATE, window_s=10, picks=picks, pick_offset_s=3,
                                    gap_policy="fill")
    assert meta["trace_gap_samples"].iloc[0] == 200 and np.all(waves[0, :200] == 0)


def test_read_picks_names_the_file(tmp_path):
    p = tmp_path / "picks.csv"
    p.write_text("sta,time\nRJOB,2009-08-24T00:20:07\n")
    with pytest.raises(ValueError, match=r"picks\.csv: column 'station' missing"):
        read_picks(p)
    p.write_text("")
    with pytest.raises(ValueError, match=r"picks\.csv: cannot read picks CSV"):
        read_picks(p)


def test_ingest_files_into_a_store(rjob, tmp_path):
    from seis_keras.data import store
    a = tmp_path / "a.mseed"
    _with_gap(rjob).write(str(a), format="MSEED")
    b = tmp_path / "b.mseed"
    shifted = rjob.copy()
    for tr in shifted:
        tr.stats.starttime += 3600
    shifted.write(str(b), format="MSEED")
    out = tmp_path / "store"
    report = ingest([a, b], out, sampling_rate=RATE, component_order="ENZ",
                    window_s=5, stride_s=5, gap_policy="reject", extra_metadata={"split": "train"})
    assert report.n_windows == 11 and len(report.rejected_windows) == 1
    assert (out / "rejected_windows.csv").exists()
    ws = store.WaveformStore(out)
    assert len(ws) == 11 and ws.component_order == "ENZ" and ws.sampling_rate == RATE
    x = ws.get_waveforms(np.arange(11))
    np.testing.assert_array_equal(x[5, :, 1], _source(rjob, "EHN")[:500].astype(np.float32))
    assert set(ws.metadata["split"]) == {"train"}
    with pytest.raises(ValueError, match=r"not\.mseed: obspy cannot read it"):
        bad = tmp_path / "not.mseed"
        bad.write_text("hello")
        ingest(bad, tmp_path / "s2", sampling_rate=RATE, window_s=5)


def test_ingest_obspy_example_files_with_resampling(tmp_path):
    """BW.UH3 SHE/SHN/SHZ (50 Hz, 230 s, three files) -> 20 s windows at 100 Hz in a store."""
    store = pytest.importorskip("seis_keras.data.store")
    pattern = str(Path(obspy.__file__).parent / "signal" / "tests" / "data" / "BW.UH3._.SH?.D.2010.147.cut.slist.gz")
    st = obspy.read(pattern)
    waves, meta = stream_to_windows(st, sampling_rate=100, component_order="ZNE", window_s=20, stride_s=10)
    assert waves.shape == (22, 2000, 3)  # floor((230.32 - 20) / 10) + 1 windows
    assert (meta["trace_channel"] == "SH").all() and not meta["trace_gap_filled"].any()
    # the upsampled trace keeps the original samples (every other one), up to FFT edge effects
    z = st.select(channel="SHZ")[0].data.astype(np.float64)
    mid = waves[10, ::2, 0]  # window 10 starts 100 s in: source samples 5000..5999
    np.testing.assert_allclose(mid, z[5000:6000], atol=0.02 * np.abs(z).max())
    report = ingest([pattern], tmp_path / "uh3", sampling_rate=100, component_order="ZNE",
                    window_s=20, stride_s=10)
    assert report.n_windows == 22 and report.files == [pattern]
    ws = store.WaveformStore(tmp_path / "uh3")
    np.testing.assert_array_equal(ws.get_waveforms(10), waves[10])


#: data.resampling's phase decomposition (the default where a length has a factor 3..ratio) against
#: obspy's whole-trace FFT: max |difference| / max |obspy's output| (measured worst 1.2e-15 over 270 cases)
RESAMPLE_RTOL = 1e-13


@pytest.mark.parametrize("npts", [1, 2, 7, 1000, 1001, 12_000, 12_007])  # odd and even take different branches
@pytest.mark.parametrize("rates", [(100.0, 20.0), (100.0, 30.0), (100.0, 33.3), (40.0, 100.0), (100.0, 99.0)])
def test_fft_resampling_matches_obspys(npts, rates):
    """data.resampling.fft_resample against obspy's Trace.resample itself: integer and non-integer
    ratios (interpolated spectrum), down and up, every kind of window obspy takes. exact=True
    (the whole-trace FFT, the bins the inverse FFT reads only) is bit-identical; the default
    (phase decomposition for 12,000 samples at ratios 5 and 3.3) within RESAMPLE_RTOL."""
    from seis_keras.data.resampling import _phases

    rate, new = rates
    rng = np.random.default_rng(npts)
    x = rng.normal(size=npts) * 1e3
    for window in ("hann", None, ("tukey", 0.3), np.fft.ifftshift(np.blackman(npts)), lambda f: np.exp(-np.abs(f))):
        ref = obspy.Trace(x.copy(), header={"sampling_rate": rate})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fewer than one new sample: both keep one, with obspy's warning
            ref.resample(new, window=window, no_filter=True)
            exact = fft_resample(x.astype(np.float32) if npts == 1000 else x, rate, new, window, exact=True)
            fast = fft_resample(x, rate, new, window)
        if npts == 1000:  # float32 input is cast to float64 first, as the ingest path always did
            ref32 = obspy.Trace(x.astype(np.float32).astype(np.float64), header={"sampling_rate": rate})
            ref32.resample(new, window=window, no_filter=True)
            np.testing.assert_array_equal(exact, ref32.data)
            exact = fft_resample(x, rate, new, window, exact=True)
        assert exact.dtype == fast.dtype == np.float64 and exact.shape == fast.shape == ref.data.shape
        np.testing.assert_array_equal(exact, ref.data)
        np.testing.assert_allclose(fast, ref.data, rtol=0, atol=RESAMPLE_RTOL * np.abs(ref.data).max())
    phases = _phases(npts, int(npts / (rate / new)) // 2 + 3, rate / new)
    assert phases == (5 if (npts, rates) == (12_000, (100.0, 20.0)) else 3 if npts == 12_000 and rate / new >= 3
                      else 1)  # the decomposition is taken where it applies, and only there
    with pytest.raises(ValueError, match="Window has the wrong shape"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fft_resample(x, rate, new, np.ones(npts + 1))


def test_resampling_of_a_trace_matches_obspys_and_leaves_the_input_alone():
    rng = np.random.default_rng(3)
    for npts in (120_001, 120_000):  # odd: obspy's FFT of the whole trace; 5 | npts: the phase decomposition
        tr = obspy.Trace(rng.normal(size=npts).astype(np.float32), header={"sampling_rate": 100.0, "station": "S"})
        ours = resample_trace(tr, 20.0, "resample", False, "hann", "lanczos", 0.8)
        ref = tr.copy()
        ref.data = ref.data.astype(np.float64)
        ref.resample(20.0, window="hann", no_filter=True)
        np.testing.assert_allclose(ours.data, ref.data, rtol=0, atol=RESAMPLE_RTOL * np.abs(ref.data).max())
        # as the float32 samples of a window: the same but for a few rounding ties (1 ulp)
        differ = np.float32(ours.data) != np.float32(ref.data)
        assert differ.mean() < 1e-4 and np.all(np.abs(np.float32(ours.data) - np.float32(ref.data))[differ]
                                               <= np.spacing(np.float32(np.abs(ref.data[differ]))))
        if npts % 5:
            np.testing.assert_array_equal(ours.data, ref.data)
        assert ours.stats.sampling_rate == 20.0 and ours.stats.npts == npts // 5
        assert ours.stats.starttime == tr.stats.starttime and ours.stats.station == "S"
        assert tr.stats.sampling_rate == 100.0 and tr.data.dtype == np.float32  # the input is left alone
    assert _fft_window("hann", 12_000) is _fft_window("hann", 12_000)  # built once per length


def test_resample_traces_on_threads_equals_one_at_a_time(monkeypatch):
    import threading

    import seis_keras.data.resampling as rs

    rng = np.random.default_rng(5)
    traces = [obspy.Trace(rng.normal(size=n).astype(np.float32), header={"sampling_rate": 100.0})
              for n in (30_000, 29_999, 30_001, 5)]
    serial = [resample_trace(t, 20.0, "resample", True, "hann", "lanczos", 0.8) for t in traces]
    names, one = [], rs.resample_trace
    monkeypatch.setattr(rs, "resample_trace", lambda *a: names.append(threading.current_thread().name) or one(*a))
    monkeypatch.setattr(rs, "PARALLEL_MIN_SAMPLES", 0)
    threaded = rs.resample_traces(traces, 20.0, "resample", True, "hann", "lanczos", 0.8, workers=2)
    assert len(names) == 4 and all(n.startswith("resample") for n in names)  # the pool did the work
    for a, b in zip(threaded, serial):
        np.testing.assert_array_equal(a.data, b.data)
        assert a.stats.npts == b.stats.npts and a.stats.starttime == b.stats.starttime
    names.clear()
    monkeypatch.setattr(rs, "PARALLEL_MIN_SAMPLES", 10 ** 9)
    rs.resample_traces(traces, 20.0, "resample", True, "hann", "lanczos", 0.8, workers=2)
    assert names == [threading.current_thread().name] * 4  # small inputs: no pool
    names.clear()
    monkeypatch.setattr(rs, "PARALLEL_MIN_SAMPLES", 0)
    rs.resample_traces(traces, 20.0, "resample", True, "hann", "lanczos", 0.8)
    assert names == [threading.current_thread().name] * 4  # the default: one thread (the pool was slower, bench)
