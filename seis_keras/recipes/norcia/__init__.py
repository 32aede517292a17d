"""Laurenti et al. 2024: foreshocks, aftershocks and time to failure of the 2016 Norcia mainshock.

Laurenti, L., Paoletti, G., Tinti, E., Galasso, F., Collettini, C. & Marone, C. (2024). Probing
the evolution of fault properties during the seismic cycle with deep learning. Nat. Commun. 15,
10025 (SPEC §2). A 7-block CNN classifies 25 s, 3-component traces recorded near the Vettore
fault as *pre* or *post* mainshock (2 classes) or into time-to-failure classes (4, 8, 9),
with a temporal split from the middle of each class; then three tests of what it learned:
wrong mainshock dates (Table 2), band-pass filtered traces (Fig. 5), spectra of co-located
pre/post pairs (Fig. 6). Ours, beyond the paper: relevance per frequency (DFT-LRP) per class on
correctly classified traces, time-domain LRP and saliency maps, and a trust section that checks
them — does the network look at 30–40 Hz?

    python -m seis_keras.recipes.norcia --profile quick
    python -m seis_keras.recipes.norcia --data ZENODO_DIR --station all
    python -m seis_keras.recipes.norcia --profile quick --bandpass      # one part

Data: built-in traces (``seis_keras.data.synthetic.norcia_data``: a planted 30–40 Hz change
across the mainshock, so the explanations can be scored) unless ``--data`` names the
authors' Zenodo folder (read by ``seis_keras.data.readers``) or a store. ``--station`` picks
one of the nine stations or ``all`` (one set of models per station, Table 1; = ``--set
data.stations=...``). The recipe does not resample: ``data.sampling_rate`` must be the
store's rate, and the CNN is built for the store's trace length (``input_contract.json``).

Sections (``__main__.run``, in the paper's order; ``[run] parts`` or the flags ``--classes``,
``--wrong-dates``, ``--bandpass``, ``--pairs``, ``--explain`` choose which run):

1. Data (``study``): the store, the stations, the experiment station (NRCA).
2. Classes (``classes``, Table 1 / Fig. 3): pre/post from the files as the code
   (``classes.labels``; checked against the time rule in the data section), time-to-failure classes and balancing
   (``seis_keras.data.norcia``), the temporal-middle split by ``source_id``
   (``seis_keras.data.norcia_experiments``); training as the code (``seis_keras.train.fit``:
   cross-entropy on logits, Adam 1e-3 with coupled L2 1e-3, batch 32, 50 epochs, lowest
   validation loss kept; PyTorch's initialisation, ``model.init``); ``runs`` seeds → mean ± std
   of accuracy and of the mean per-class recall (the authors' performance ratio). Returns the
   first 2-class model.
3. Wrong dates (``wrong_dates``, Table 2, on a random split by event: ``wrong_dates.test_events``),
   band-passed traces (``bandpass``, Fig. 5), co-located pairs (``pairs``, Fig. 6).
4. Explanations (``explanations``, ours) of the first 2-class model, and their trust checks
   (``trust``: randomisation, planted-band localisation, deletion; the headline is the best
   method that passes, the recipe's rule is shown with its verdict).
5. Report (``report``): metrics.json, figures, report.md (the paper's numbers beside ours),
   the exported 2-class model (SavedModel + .h5 + .keras) with its ``input_contract.json``.
"""
