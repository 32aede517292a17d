"""Temporal earthquake forecasting: a CNN finds precursors in the 10 h before Mw ≥ 6 earthquakes.

Ong, Nielsen, Giani & Johnson, "Temporal earthquake forecasting" (CNN on IU MAJO, 31 events in
and around Japan; SPEC §4, ``papers/ong_temporal-earthquake-forecasting.txt``).

Reproduces the study: ten hours of three-component data before each event are cut into 36
macro-windows of 1000 s, each normalised jointly over its components; the last (36) is
*precursor*, noise is window 1 (mode A) or 1000 s at least 48 h from any event (mode B); each
macro-window gives 37 windows of 16384 samples (888 + 888 training, 259 + 259 test windows for
24/7 events). The precursor CNN (random input layer redrawn every epoch, 7 conv blocks,
softmax over noise/precursor) is trained; training/test accuracy per mode, confusion matrices
(Fig. 4) and per-event test accuracy (Table 2); then every window of all 36 intervals is
classified by five independent retrainings, giving the fraction called precursor through time
(Fig. 5, paper: rising above the spread ~3.3 h before). What the network learned: sequential
windows and time occlusion (Figs 6–7), frequency occlusion (Fig. 8), spectrogram, cumulative
spectra and their relative difference (Figs 9–11), plus LRP and saliency spectra; on the
built-in data, whether these find the planted 0.16–0.21 Hz tremor. The model scans a continuous
record (``seis_keras.scan``) and is exported.

    python -m seis_keras.recipes.precursor --profile quick          # minutes on a CPU
    python -m seis_keras.recipes.precursor --data STORE              # the fetched Ong store

Data (``--data``): default the built-in records of
:func:`seis_keras.data.synthetic.precursor_data` (10 h before each event with a growing
0.16–0.21 Hz tremor over the last ``onset_hours``, plus tremor-free records ≥ 48 h from any
event), written to a store. ``--data STORE``: a store with ``record_kind`` (``event``;
``noise``/``noise_b`` for mode B), ``trace_start_time``, ``source_origin_time``, ``split``,
``source_id``, at ``data.sampling_rate``, e.g. from ``seis-keras data fetch
data_manifests/ong_majo.toml``. ``--data FILES`` (obspy-readable continuous records, a folder
or glob) with ``data.events_csv`` is cut into such records
(:func:`seis_keras.data.records.records_from_files`).

Modules: ``config`` (the schema of ``recipes/precursor.toml``), ``study`` (the paper's numbers,
the records and the helpers the sections share), one module per part of the Methods —
``data``, ``training``, ``time_course``, ``occlusion`` (time and frequency), ``spectra``,
``relevance`` (relevance spectra, the planted band), ``scan_record`` (scan and export) — and
``report``; ``__main__`` runs them in order.
"""
