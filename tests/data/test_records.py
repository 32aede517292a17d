"""data.records: continuous obspy data on one grid, and event records cut from files into a store."""
import numpy as np
import obspy
import pandas as pd
import pytest

from seis_keras.data.records import continuous_stations, read_events_table, records_from_files, waveform_files
from seis_keras.data.store import WaveformStore

T0 = obspy.UTCDateTime("2020-01-01T00:00:00")


def _stream(data, fs, start=T0, station="MAJO", comps="12Z"):
    return obspy.Stream([obspy.Trace(np.asarray(data[j], np.float32), header={
        "network": "IU", "station": station, "location": "10", "channel": f"BH{c}", "sampling_rate": fs,
        "starttime": start}) for j, c in enumerate(comps)])


def test_continuous_stations_gap_mask_common_span_and_order():
    fs = 40.0
    rng = np.random.default_rng(1)
    data = rng.normal(size=(3, 400)).astype(np.float32)
    st = _stream(data, fs)
    # component Z: two segments, samples 100..149 missing; component 2 starts 1 s (40 samples) later
    z = st.select(channel="BHZ")[0]
    st.remove(z)
    st += obspy.Trace(data[2, :100].copy(), header=dict(z.stats, npts=100))
    st += obspy.Trace(data[2, 150:].copy(), header=dict(z.stats, npts=250, starttime=T0 + 150 / fs))
    two = st.select(channel="BH2")[0]
    two.data, two.stats.starttime = data[1, 40:].copy(), T0 + 1.0
    (sta,) = continuous_stations(st, sampling_rate=fs, component_order="Z12")
    assert sta["id"] == "IU.MAJO.10" and sta["channel"] == "BH" and sta["start"] == T0 + 1.0
    assert sta["data"].shape == (360, 3) and sta["data"].dtype == np.float32
    gap = np.zeros(360, bool)
    gap[60:110] = True  # samples 100..149 of the record, from the common start at sample 40
    np.testing.assert_array_equal(sta["gap"], gap)
    np.testing.assert_array_equal(sta["data"][:, 0], np.where(gap, 0.0, data[2, 40:]))  # Z first
    np.testing.assert_array_equal(sta["data"][:, 1], data[0, 40:])
    np.testing.assert_array_equal(sta["data"][:, 2], data[1, 40:])


def test_continuous_stations_resamples_as_obspy_and_refuses_nan():
    fs_in, fs = 100.0, 40.0
    rng = np.random.default_rng(2)
    data = rng.normal(size=(3, 2000))
    (sta,) = continuous_stations(_stream(data, fs_in), sampling_rate=fs, component_order="12Z")
    ref = obspy.Trace(data[2].astype(np.float64), header={"sampling_rate": fs_in})
    ref.resample(fs, window="hann", no_filter=True)  # obspy's FFT resampling, independently
    assert len(sta["data"]) == ref.stats.npts == 800
    np.testing.assert_allclose(sta["data"][:, 2], ref.data, rtol=1e-5, atol=1e-5)
    bad = data.copy()
    bad[1, 7] = np.nan
    with pytest.raises(ValueError, match=r"IU.MAJO.10.BH2: 1 NaN/inf samples"):
        continuous_stations(_stream(bad, fs_in), sampling_rate=fs, component_order="12Z")
    with pytest.raises(ValueError, match="component 'E' missing"):
        continuous_stations(_stream(data, fs_in), sampling_rate=fs, component_order="ENZ",
                            channel_map={"BH1": "N", "BH2": "N", "BHZ": "Z"})


@pytest.fixture
def day(tmp_path):
    """200 s of 40 Hz 3-component noise in one miniSEED file, starting at midnight."""
    fs = 40.0
    data = np.random.default_rng(0).normal(size=(3, int(200 * fs))).astype(np.float32)
    (tmp_path / "wf").mkdir()
    _stream(data, fs).write(str(tmp_path / "wf" / "day.mseed"), format="MSEED")
    return tmp_path, data


def test_records_from_obspy_files_and_events_csv(day):
    tmp_path, data = day
    pd.DataFrame({"origin_time": ["2020-01-01T00:01:00", "2020-01-01T00:02:30", ""],
                  "split": ["train", "test", "train"], "record_kind": ["event", "event", "noise"],
                  "source_id": ["ev1", "", ""],
                  "start_time": ["", "", "2020-01-01T00:00:10"], "end_time": ["", "", "2020-01-01T00:00:50"]}
                 ).to_csv(tmp_path / "events.csv", index=False)
    path = records_from_files(str(tmp_path / "wf"), tmp_path / "events.csv", tmp_path / "store", sampling_rate=40.0,
                              component_order="12Z", seconds_before=30.0)
    store = WaveformStore(path)
    meta = store.metadata
    assert meta["record_kind"].tolist() == ["event", "event", "noise"]
    assert meta["source_id"].tolist() == ["ev1", "event001", "noise002"]
    assert meta["split"].tolist() == ["train", "test", "train"] and set(meta["station_code"]) == {"MAJO"}
    assert str(meta["source_origin_time"].iat[1]).startswith("2020-01-01T00:02:30")
    np.testing.assert_allclose(store.get_waveforms(0), data[:, 1200:2400].T, rtol=1e-6)  # 30 s before 00:01:00
    np.testing.assert_allclose(store.get_waveforms(1), data[:, 4800:6000].T, rtol=1e-6)  # 30 s before 00:02:30
    np.testing.assert_allclose(store.get_waveforms(2), data[:, 400:2000].T, rtol=1e-6)  # 00:00:10 - 00:00:50
    # the records are resampled to the asked rate (20 Hz: half the samples)
    half = WaveformStore(records_from_files(str(tmp_path / "wf" / "*.mseed"), tmp_path / "events.csv",
                                            tmp_path / "store20", sampling_rate=20.0, component_order="12Z",
                                            seconds_before=30.0))
    assert half.sampling_rate == 20.0 and half.get_waveforms(1).shape == (600, 3)


def test_records_from_files_errors_name_the_file_and_row(day):
    tmp_path, _ = day
    late = tmp_path / "late.csv"
    pd.DataFrame({"origin_time": ["2020-01-01T00:01:00", "2020-01-01T00:10:00"], "split": ["train", "test"]}
                 ).to_csv(late, index=False)
    with pytest.raises(ValueError, match=r"late.csv: row 2: no data between"):
        records_from_files(str(tmp_path / "wf"), late, tmp_path / "s1", sampling_rate=40.0, component_order="12Z",
                           seconds_before=30.0)
    early = tmp_path / "early.csv"  # the record would start 10 s before the data
    pd.DataFrame({"origin_time": ["2020-01-01T00:00:20"], "split": ["train"]}).to_csv(early, index=False)
    with pytest.raises(ValueError, match=r"early.csv: row 1: the records do not cover"):
        records_from_files(str(tmp_path / "wf"), early, tmp_path / "s2", sampling_rate=40.0, component_order="12Z",
                           seconds_before=30.0)
    (tmp_path / "nosplit.csv").write_text("origin_time\n2020-01-01T00:01:00\n")
    with pytest.raises(ValueError, match=r"nosplit.csv: column 'split' missing"):
        read_events_table(tmp_path / "nosplit.csv")
    with pytest.raises(ValueError, match=r"nowhere\*: no waveform files found"):
        waveform_files(str(tmp_path / "nowhere*"))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("not a waveform")
    with pytest.raises(ValueError, match=r"a.txt: obspy cannot read it"):
        records_from_files(str(tmp_path / "junk"), late, tmp_path / "s3", sampling_rate=40.0, component_order="12Z",
                           seconds_before=30.0)
