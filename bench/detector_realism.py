"""Does a detector trained on the built-in windows hold on real records? (issue 12, items 1-2)

Trains the Majstorović detector (``seis_keras.models.get_model("detector")``, ``seis_keras.train.fit``,
SGD lr 1e-2 momentum 0.9 as the paper; the quick profile's size: ``--n 6000`` windows, at most
30 epochs, batch 64, patience 8; each window demeaned (``--no-demean`` to skip) and divided by
its maximum) on the built-in data (``--realism realistic``, the default, or ``clean``, the
generator before issue 12) with the augmentations of ``--augment`` (``none``, ``all`` = every
augmentation at its defaults, ``built-in`` = :data:`seis_keras.data.augment.DETECTOR_BUILT_IN`, the
default, or a JSON settings dict), then scores:

* the built-in test split;
* a **dev-proxy** set of real records that is NOT the evaluation set (all decisions were made
  on it): earthquake windows (P 5 s into the window, as the detector recipe cuts them) from
  ``../shared/data/stead_sample`` (50 local events, TA.109C, 100 Hz, P picks),
  ``../shared/data/seisbench_dummy`` (100 CX.PB01 events, 20 Hz; P from iasp91 travel times)
  and obspy's bundled event records (BW.RJOB, BW.UH3, CER, JMI); noise windows from obspy's
  bundled records outside their events (1 h each of CA.STS2 and CA.0438, II.TLY before its
  teleseism, GRB1, CLZ, GRA1, AYT, AZR, CRLZ, BW.UH3/UH4 between events, the IU BHZ minute,
  GT.BOSA), single-component records made three-component from consecutive 25 s stretches;
  and every noise window again with one spike (one sample, one component, 8 x the window's
  largest demeaned value, :func:`seis_keras.data.augment.one_spike`), 3 seeded copies each;
* only with ``--report-dev STORE``: that labelled store (the shared evaluation set
  ``../shared/data/detector_real_dev``), scored once at the end, never used for a decision.

Usage: ``.venv/bin/python bench/detector_realism.py [--augment all] [--json out.json] [--report-dev PATH]``
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import obspy  # noqa: E402
from obspy.signal.trigger import classic_sta_lta, trigger_onset  # noqa: E402

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
OBSPY = Path(obspy.__file__).parent
FS, T = 20.0, 500
#: obspy-bundled records: (path, noise stretches in s from the start, event intervals in s)
#: chosen by eye from plots of the records (events excluded with their codas).
NOISE_RECORDS = [
    ("signal/tests/data/ref_STS2", [(0, 3600)]),
    ("signal/tests/data/ref_unknown", [(0, 3600)]),
    ("realtime/tests/data/II.TLY.BHZ.SAC", [(0, 290)]),
    ("io/gse2/tests/data/acc.gse", [(0, 300)]),
    ("io/gse2/tests/data/y2000.gse", [(0, 300)]),
    ("io/gse2/tests/data/GRF_031102_0225.GSE.wrong_chksum", [(0, 95), (160, 300)]),
    ("io/y/tests/data/YAYT_BHZ_20021223.124800", [(0, 52), (100, 180)]),
    ("io/y/tests/data/YAZRSPE.20100119.060433", [(0, 85), (140, 340)]),
    ("signal/tests/data/CRLZ.HHZ.10.NZ.SAC", [(0, 150)]),
    ("signal/tests/data/BW.UH4._.EHZ.D.2010.147.cut.slist.gz", [(70, 200)]),
    ("signal/tests/data/BW.UH3._.SH?.D.2010.147.cut.slist.gz", [(70, 200)]),
    ("clients/fdsn/tests/data/dataselect_example_wildcards.mseed", [(0, 60)]),
    ("io/mseed/tests/data/dataquality-m.mseed", [(0, 40)]),
]
EVENT_RECORDS = [  # (path, (start, end) s holding the event's P)
    ("RJOB", (0, 30)),
    ("signal/tests/data/BW.UH3._.SH?.D.2010.147.cut.slist.gz", (20, 40)),
    ("signal/tests/data/BW.UH3._.SH?.D.2010.147.cut.slist.gz", (200, 215)),
    ("io/seisan/tests/data/2005-07-23-1452-04S.CER___030.mseed", (20, 40)),
    ("io/seisan/tests/data/90010319.1320J90", (15, 30)),
]


def _read(path: str) -> obspy.Stream:
    warnings.filterwarnings("ignore")
    if path == "RJOB":
        return obspy.read()
    return obspy.read(str(OBSPY / path), **({"verify_chksum": False} if "gse" in path.lower() else {}))


def _at_20hz(tr: obspy.Trace) -> np.ndarray:
    tr = tr.copy()
    tr.data = tr.data.astype(np.float64)
    if abs(tr.stats.sampling_rate - FS) > 1e-3:
        tr.resample(FS, window="hann")  # as the detector recipe conforms stores (FFT, Hann taper)
    return tr.data.astype(np.float32)


def _three_components(st: obspy.Stream) -> tuple[list[np.ndarray], bool]:
    """E, N, Z arrays at 20 Hz of one station (or the first trace repeated; flag False)."""
    by = {}
    for tr in st:
        by.setdefault(tr.stats.channel[-1], tr)
    if {"E", "N", "Z"} <= set(by):
        data = [_at_20hz(by[c]) for c in "ENZ"]
        n = min(len(d) for d in data)
        return [d[:n] for d in data], True
    return [_at_20hz(st[0])], False


def proxy_noise(max_per_record: int = 40) -> tuple[np.ndarray, list[str]]:
    """Real noise windows ``(N, 500, 3)`` (raw counts) from the obspy-bundled records.

    At most ``max_per_record`` windows per record (evenly spaced), so the two hour-long records
    do not outweigh the rest.
    """
    out, names = [], []
    for path, stretches in NOISE_RECORDS:
        rec, rec_names = [], []
        st = _read(path)
        stations = sorted({(tr.stats.network, tr.stats.station, tr.stats.location) for tr in st})
        for net, sta, loc in stations:
            comps, three = _three_components(st.select(network=net, station=sta, location=loc))
            for a, b in stretches:
                lo, hi = int(a * FS), int(min(b * FS, len(comps[0])))
                if three:
                    for s in range(lo, hi - T + 1, T):
                        rec.append(np.stack([c[s:s + T] for c in comps], axis=1))
                        rec_names.append(f"{path}:{sta}:{s}")
                else:  # one component: three consecutive stretches as E, N, Z
                    for s in range(lo, hi - 3 * T + 1, T):
                        d = comps[0]
                        rec.append(np.stack([d[s:s + T], d[s + T:s + 2 * T], d[s + 2 * T:s + 3 * T]], axis=1))
                        rec_names.append(f"{path}:{sta}:{s}")
        keep = np.unique(np.linspace(0, len(rec) - 1, min(len(rec), max_per_record)).round().astype(int)) \
            if rec else []
        out += [rec[k] for k in keep]
        names += [rec_names[k] for k in keep]
    return np.asarray(out, np.float32), names


def _p_pick(z: np.ndarray, lo: int, hi: int) -> int | None:
    cf = classic_sta_lta(z - z.mean(), int(0.5 * FS), int(5 * FS))
    on = trigger_onset(cf[lo:hi], 3.0, 1.0)
    return None if len(on) == 0 else int(lo + on[0][0])


def proxy_earthquakes() -> tuple[np.ndarray, list[str]]:
    """Real earthquake windows ``(N, 500, 3)``, P 5 s into the window."""
    from obspy.geodetics import gps2dist_azimuth
    from obspy.taup import TauPyModel
    from scipy.signal import resample

    from seis_keras.data.store import WaveformStore

    out, names, pre = [], [], int(5 * FS)
    stead = SHARED / "stead_sample"
    if stead.is_dir():
        with WaveformStore(stead) as s:
            x = s.get_waveforms(np.arange(len(s)), components="ENZ").astype(np.float64)
            p = s.metadata["trace_p_arrival_sample"].to_numpy(float) * FS / s.sampling_rate
            x = resample(x, int(round(x.shape[1] * FS / s.sampling_rate)), axis=1, window="hann")
            for i in range(len(x)):
                a = int(round(p[i])) - pre
                if 0 <= a and a + T <= x.shape[1]:
                    out.append(x[i, a:a + T])
                    names.append(f"stead:{i}")
    dummy = SHARED / "seisbench_dummy"
    if dummy.is_dir():
        model = TauPyModel("iasp91")
        with WaveformStore(dummy) as s:
            m = s.metadata
            x = s.get_waveforms(np.arange(len(s)), components="ENZ")
            for i, r in m.iterrows():
                d_m, _, _ = gps2dist_azimuth(r.source_latitude_deg, r.source_longitude_deg,
                                             r.station_latitude_deg, r.station_longitude_deg)
                arr = model.get_travel_times(max(float(r.source_depth_km), 0.0), d_m / 111194.9, ["p", "P"])
                if not arr:
                    continue
                a = int(round(min(t.time for t in arr) * FS)) - pre
                if 0 <= a and a + T <= x.shape[1]:
                    out.append(x[i, a:a + T])
                    names.append(f"seisbench_dummy:{i}")
    for path, (lo, hi) in EVENT_RECORDS:
        st = _read(path)
        comps, three = _three_components(st.select(station=st[0].stats.station))
        if not three:
            continue
        p = _p_pick(comps[2].astype(float), int(lo * FS), int(hi * FS))
        if p is None or p - pre < 0 or p - pre + T > len(comps[2]):
            continue
        out.append(np.stack([c[p - pre:p - pre + T] for c in comps], axis=1))
        names.append(f"{path}:{p}")
    return np.asarray(out, np.float32), names


def transforms(demean: bool) -> list:
    from seis_keras.data.transforms import Demean, MaxNormalize

    return ([Demean()] if demean else []) + [MaxNormalize()]


def probabilities(model, x: np.ndarray, demean: bool) -> np.ndarray:
    from seis_keras.data.transforms import Compose

    z = model.predict(Compose(transforms(demean))(x), batch_size=512, verbose=0)[:, 0]
    return 1.0 / (1.0 + np.exp(-z.astype(np.float64)))


def scores(model, x: np.ndarray, y: np.ndarray, demean: bool, spike_copies: int = 3, groups=None) -> dict:
    """Accuracy overall / on noise / on earthquakes, and the share of noise + one spike called earthquake.

    ``groups`` (one name per window) adds the accuracy per group.
    """
    from seis_keras.data.augment import one_spike

    p = probabilities(model, x, demean)
    hit = (p >= 0.5) == (y == 1)
    noise = x[y == 0]
    spiked = np.concatenate([one_spike(noise, factor=8.0, seed=k) for k in range(spike_copies)])
    out = {"n": int(len(y)), "accuracy": float(hit.mean()), "noise_accuracy": float(hit[y == 0].mean()),
           "earthquake_accuracy": float(hit[y == 1].mean()),
           "spike_called_earthquake": float((probabilities(model, spiked, demean) >= 0.5).mean()),
           **{f"{k}_called_earthquake": float((probabilities(model, v, demean) >= 0.5).mean())
              for k, v in other_faults(noise).items()}}
    if groups is not None:
        groups = np.asarray(groups)
        out["per_group"] = {g: {"n": int((groups == g).sum()), "accuracy": float(hit[groups == g].mean())}
                            for g in sorted(set(groups))}
    return out


def other_faults(noise: np.ndarray, seed: int = 0) -> dict:
    """Noise windows with one other fault each (extra stress tests, not the issue's figure).

    ``step``: a step of 8 x the window's largest demeaned value on one component from a random
    sample; ``gap``: 2-5 s of zeros on all components (a zero-filled gap in raw counts);
    ``boxcar``: 1-3 s of 8 x that value on one component.
    """
    from seis_keras.data.augment import window_peak

    rng = np.random.default_rng(seed)
    n = len(noise)
    peak = window_peak(noise)
    at, comp = rng.integers(50, T - 100, n), rng.integers(0, 3, n)
    length = rng.integers(40, 101, n)
    out = {k: noise.copy() for k in ("step", "gap", "boxcar")}
    for i in range(n):
        out["step"][i, at[i]:, comp[i]] += 8.0 * peak[i]
        out["gap"][i, at[i]:at[i] + length[i]] = 0.0
        out["boxcar"][i, at[i]:at[i] + length[i] // 2, comp[i]] += 8.0 * peak[i]
    return out


def _source(name: str) -> str:
    head = name.split(":")[0]
    return head if head in ("stead", "seisbench_dummy") else "obspy:" + Path(head).name.split(".")[0][:12]


def augment_settings(spec: str) -> dict:
    """``--augment`` as an :class:`~seis_keras.data.augment.Augmentations` settings dict."""
    from seis_keras.data.augment import DETECTOR_BUILT_IN, ORDER

    named = {"none": {}, "all": {k: True for k in ORDER}, "built-in": DETECTOR_BUILT_IN}
    return named[spec] if spec in named else json.loads(spec)


def train(args, store: Path, run_dir: Path):
    from seis_keras.data.augment import Augmentations
    from seis_keras.data.pipeline import make_dataset
    from seis_keras.data.store import WaveformStore
    from seis_keras.models import get_model
    from seis_keras.train.fit import TrainSettings, fit

    aug = Augmentations(augment_settings(args.augment))
    s = WaveformStore(store)
    split = s.metadata["split"].to_numpy()
    common = dict(transforms=transforms(args.demean), batch_size=args.batch_size)
    train_ds = make_dataset(s, indices=np.flatnonzero(split == "train"), shuffle=True, seed=args.seed,
                            augment=aug, **common)
    val_ds = make_dataset(s, indices=np.flatnonzero(split == "dev"), **common)
    ts = TrainSettings(optimizer="sgd", learning_rate=1e-2, momentum=0.9, epochs=args.epochs,
                       early_stopping_patience=args.patience, monitor="val_loss", keep_best=True, seed=args.seed,
                       verbose=0)
    return fit(lambda: get_model("detector"), train_ds, val_ds, ts, run_dir), repr(aug)


def augment_cost(store: Path, settings: dict, batch_size: int, seed: int) -> dict:
    """Seconds to iterate one training epoch of the store with and without the augmentations."""
    from seis_keras.data.augment import Augmentations
    from seis_keras.data.pipeline import make_dataset
    from seis_keras.data.store import WaveformStore

    s = WaveformStore(store)
    train_rows = np.flatnonzero(s.metadata["split"].to_numpy() == "train")
    out = {}
    for name, aug in (("plain", None), ("augmented", Augmentations(settings))):
        ds = make_dataset(s, indices=train_rows, shuffle=True, seed=seed, transforms=transforms(True),
                          batch_size=batch_size, augment=aug)
        for _ in ds:  # warm-up epoch (graph tracing, file handles)
            pass
        t = time.perf_counter()
        for _ in ds:
            pass
        out[f"{name}_epoch_s"] = time.perf_counter() - t
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--augment", default="built-in", help="none | all | built-in | JSON dict of settings")
    parser.add_argument("--realism", choices=("realistic", "clean"), default="realistic")
    parser.add_argument("--no-demean", dest="demean", action="store_false")
    parser.add_argument("--cache", default="", help="folder for the built-in store (default: a temporary one)")
    parser.add_argument("--json", default="", help="write the numbers here")
    parser.add_argument("--augment-cost", action="store_true", help="also time one epoch with/without augmentation")
    parser.add_argument("--save-model", default="", help="save the trained model here (.h5)")
    parser.add_argument("--report-dev", default="", help="labelled store scored once at the end (evaluation only)")
    args = parser.parse_args()

    from seis_keras.data.store import WaveformStore
    from seis_keras.data.synthetic import DetectorRealism, detector_data

    t0 = time.time()
    xn, names_n = proxy_noise()
    xe, names_e = proxy_earthquakes()
    groups = [("eq:" if k < len(xe) else "noise:") + _source(nm) for k, nm in enumerate(names_e + names_n)]
    x_proxy = np.concatenate([xe, xn])
    y_proxy = np.concatenate([np.ones(len(xe), int), np.zeros(len(xn), int)])
    print(f"dev-proxy: {len(xe)} earthquake + {len(xn)} noise windows ({time.time() - t0:.0f} s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache or tmp)
        store = cache / f"detector_{args.realism}_n{args.n}_seed{args.seed}"
        if not (store / "waveforms.hdf5").is_file():
            t = time.time()
            detector_data(args.n, seed=args.seed, path=store,
                          realism=None if args.realism == "clean" else DetectorRealism())
            print(f"built-in data: {args.n} windows in {time.time() - t:.1f} s", flush=True)
        cost = None
        if args.augment_cost:
            cost = augment_cost(store, augment_settings(args.augment), args.batch_size, args.seed)
            print(f"one epoch of the training split: {cost}", flush=True)
        t = time.time()
        result, aug = train(args, store, Path(tmp) / "run")
        fit_s = time.time() - t
        if args.save_model:
            result.model.save(args.save_model, save_format="h5")
        print(f"trained {result.epochs_run} epochs in {fit_s:.0f} s (best epoch {result.best_epoch}); {aug}",
              flush=True)
        with WaveformStore(store) as s:
            test = np.flatnonzero(s.metadata["split"].to_numpy() == "test")
            x_test, y_test = s.get_waveforms(test), s.metadata["label"].to_numpy()[test]
        hidden = ("report_dev", "save_model")
        out = {"settings": {k: v for k, v in vars(args).items() if k not in hidden}, "augment": aug,
               "fit_s": fit_s, "augment_cost": cost, "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
               "built_in_test": scores(result.model, x_test, y_test, args.demean),
               "dev_proxy": scores(result.model, x_proxy, y_proxy, args.demean, groups=groups)}
        if args.report_dev:
            with WaveformStore(args.report_dev) as s:
                x_dev = s.get_waveforms(np.arange(len(s)), components="ENZ")
                out["report_dev"] = scores(result.model, x_dev, s.metadata["label"].to_numpy(), args.demean)
    for key in ("built_in_test", "dev_proxy", "report_dev"):
        if key in out:
            r = out[key]
            print(f"{key:14s} n={r['n']:4d} accuracy {r['accuracy']:.3f}  noise {r['noise_accuracy']:.3f}  "
                  f"earthquake {r['earthquake_accuracy']:.3f}  noise+spike called earthquake "
                  f"{r['spike_called_earthquake']:.3f} (+step {r['step_called_earthquake']:.3f}, "
                  f"+gap {r['gap_called_earthquake']:.3f}, +boxcar {r['boxcar_called_earthquake']:.3f})")
    for g, v in out["dev_proxy"]["per_group"].items():
        print(f"  dev-proxy {g:40s} n={v['n']:3d} accuracy {v['accuracy']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
